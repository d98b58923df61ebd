#!/usr/bin/env node
/** `wsq-bench` / `npm run bench`: parse options, run, exit with the outcome. Only wiring. */
import { runBench } from './bench.js';
import { parseBenchArgs } from './options.js';

const parsed = parseBenchArgs(process.argv.slice(2));
if (parsed.kind === 'exit') {
  (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output);
  process.exitCode = parsed.code;
} else {
  try {
    const outcome = await runBench(parsed.config, { stdout: process.stdout, stderr: process.stderr });
    process.exitCode = outcome.exitCode;
  } catch (err) {
    process.stderr.write(`wsq-bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
