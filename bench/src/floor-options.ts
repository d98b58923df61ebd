/** The floor's few options (`npm run bench:floor -- --help`). */
import { parseArgs } from 'node:util';
import { findNatsServer } from './nats.js';

export const FLOOR_USAGE = `Usage: npm run bench:floor -- [options]

What a Node process pays per message, at the least, to read and write the frames every wsq
message crosses three processes with, beside nats-server's whole pipe (docs/performance.md).

Options:
  --messages <n>        messages per step (default 1000000; nats-server's CPU is read in
                        10 ms ticks, so fewer than 100000 make its figure coarse)
  --nats-server <path>  the nats-server binary (default: PATH, then the usual places);
                        without one the nats-server row is left out
  --json                one JSON object instead of the table
  --help                this text
`;

export type FloorParse =
  | { kind: 'run'; messages: number; natsBinary: string | undefined; json: boolean }
  | { kind: 'exit'; code: number; output: string };

const DEFAULT_MESSAGES = 1_000_000;

export function parseFloorArgs(argv: readonly string[]): FloorParse {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        messages: { type: 'string' },
        'nats-server': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    return { kind: 'exit', code: 2, output: `wsq-bench floor: ${(err as Error).message}\n\n${FLOOR_USAGE}` };
  }
  if (values.help) return { kind: 'exit', code: 0, output: FLOOR_USAGE };
  const messages = values.messages === undefined ? DEFAULT_MESSAGES : Number(values.messages);
  if (!Number.isSafeInteger(messages) || messages < 1 || !/^\d+$/.test(values.messages ?? '1')) {
    return {
      kind: 'exit',
      code: 2,
      output: `wsq-bench floor: --messages must be a whole number ≥ 1, got "${values.messages}"\n`,
    };
  }
  const explicit = values['nats-server'];
  const natsBinary = findNatsServer(explicit);
  if (explicit !== undefined && natsBinary === undefined) {
    return {
      kind: 'exit',
      code: 2,
      output: `wsq-bench floor: --nats-server: "${explicit}" is not an executable file\n`,
    };
  }
  return { kind: 'run', messages, natsBinary, json: values.json };
}
