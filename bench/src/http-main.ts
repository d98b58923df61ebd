#!/usr/bin/env node
/**
 * `npm run bench:http -- [connections] [durationMs] [fillMessages]`: the HTTP API benchmark
 * (http-bench.ts). Only wiring.
 */
import { HTTP_BENCH_DEFAULTS, runHttpBench } from './http-bench.js';

const [connections, durationMs, fillMessages] = process.argv.slice(2).map(Number);
await runHttpBench(
  {
    ...HTTP_BENCH_DEFAULTS,
    ...(connections ? { connections } : {}),
    ...(durationMs ? { durationMs } : {}),
    ...(fillMessages ? { fillMessages } : {}),
  },
  process.stdout,
);
