#!/usr/bin/env node
/** `npm run bench:floor`: parse options, measure the floor, print it. Only wiring. */
import { parseFloorArgs } from './floor-options.js';
import { formatFloor, measureFloor } from './floor.js';

const parsed = parseFloorArgs(process.argv.slice(2));
if (parsed.kind === 'exit') {
  (parsed.code === 0 ? process.stdout : process.stderr).write(parsed.output);
  process.exitCode = parsed.code;
} else {
  try {
    const rows = await measureFloor(parsed);
    process.stdout.write(
      parsed.json ? JSON.stringify({ messages: parsed.messages, rows }) + '\n' : formatFloor(rows, parsed.messages),
    );
  } catch (err) {
    process.stderr.write(`wsq-bench floor: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
