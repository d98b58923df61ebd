/**
 * The floor measures real child processes over real TLS; these runs are short, so the figures
 * are only checked for being there and being CPU time, not for their size.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { FLOOR_DESCRIPTIONS, formatFloor, measureFloor } from '../src/floor.js';
import { parseFloorArgs } from '../src/floor-options.js';
import { FLOOR_PAYLOAD, floorFrames } from '../src/floor-wire.js';
import { findNatsServer } from '../src/nats.js';

t.test('floorFrames: text frames of the payload, masked as a client sends them or plain', async (t) => {
  const plain = floorFrames(3, false);
  const one = plain.length / 3;
  t.equal(one, 2 + FLOOR_PAYLOAD.length);
  t.same([plain[0], plain[1]], [0x81, FLOOR_PAYLOAD.length], 'FIN + text, unmasked length');
  t.equal(plain.subarray(2 * one + 2).toString(), FLOOR_PAYLOAD, 'the third frame');
  const masked = floorFrames(2, true);
  t.equal(masked.length, 2 * (6 + FLOOR_PAYLOAD.length));
  t.equal(masked[1], 0x80 | FLOOR_PAYLOAD.length, 'mask bit set');
  const key = masked.subarray(2, 6);
  const body = Buffer.from(masked.subarray(6, 6 + FLOOR_PAYLOAD.length)).map((b, i) => b ^ key[i % 4]);
  t.equal(Buffer.from(body).toString(), FLOOR_PAYLOAD, 'unmasks to the payload');
});

t.test('parseFloorArgs: defaults, help and every refusal exits 2 with a message', async (t) => {
  const run = parseFloorArgs(['--messages', '5000', '--json']);
  t.match(run, { kind: 'run', messages: 5000, json: true });
  t.match(parseFloorArgs([]), { kind: 'run', messages: 1_000_000, json: false });
  t.match(parseFloorArgs(['--help']), { kind: 'exit', code: 0, output: /Usage: npm run bench:floor/ });
  for (const bad of [['--messages', '0'], ['--messages', '1e3'], ['--messages', 'x'], ['--messages=-5']]) {
    t.match(parseFloorArgs(bad), { kind: 'exit', code: 2, output: /--messages must be a whole number/ }, bad.join(' '));
  }
  t.match(parseFloorArgs(['--bogus']), { kind: 'exit', code: 2, output: /Unknown option '--bogus'/ });
  t.match(parseFloorArgs(['--nats-server', '/no/such/binary']), { kind: 'exit', code: 2, output: /not an executable/ });
});

t.test('formatFloor: one line per step with its description', async (t) => {
  const text = formatFloor(
    [
      { step: 'tls-send', cpuMicrosPerMessage: 0.171 },
      { step: 'floor', cpuMicrosPerMessage: 1.2 },
    ],
    1_000_000,
  );
  t.equal(
    text,
    [
      'CPU per message, 1,000,000 messages of 64 bytes over TLS:',
      `tls-send    0.17 µs  ${FLOOR_DESCRIPTIONS['tls-send']}`,
      `floor       1.20 µs  ${FLOOR_DESCRIPTIONS.floor}`,
      '',
    ].join('\n'),
  );
});

t.test('measureFloor: every step runs in a child over TLS and reports CPU per message', async (t) => {
  const natsBinary = findNatsServer();
  const rows = await measureFloor({ messages: 5_000, natsBinary });
  const steps = rows.map((r) => r.step);
  t.same(steps, [
    'ws-receive',
    'tls-receive',
    'tls-send',
    'tls-send-one',
    ...(natsBinary ? ['nats-server'] : []),
    'floor',
  ]);
  for (const r of rows) t.ok(Number.isFinite(r.cpuMicrosPerMessage) && r.cpuMicrosPerMessage >= 0, r.step);
  const of = (step: string): number => rows.find((r) => r.step === step)!.cpuMicrosPerMessage;
  t.ok(of('ws-receive') > 0 && of('tls-receive') > 0 && of('tls-send') > 0, 'the Node steps took CPU');
  t.ok(of('tls-send-one') > of('tls-send'), 'a write per frame costs more than one per 512 frames');
  t.equal(of('floor'), 3 * (of('tls-receive') + of('tls-send')), 'the floor is three reads and three writes');
});

t.test('the command: --json prints the rows; bad options exit 2', async (t) => {
  const main = fileURLToPath(new URL('../src/floor-main.js', import.meta.url));
  const ok = spawnSync(process.execPath, [main, '--messages', '2000', '--json', '--nats-server', '/bin/false'], {
    encoding: 'utf8',
  });
  t.equal(ok.status, 1, 'a nats-server that exits at once is an error of the run');
  t.match(ok.stderr, /wsq-bench floor: .*nats-server/);
  const json = spawnSync(process.execPath, [main, '--messages', '2000', '--json'], { encoding: 'utf8' });
  t.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { messages: number; rows: { step: string }[] };
  t.equal(parsed.messages, 2000);
  t.equal(parsed.rows.at(-1)?.step, 'floor');
  const bad = spawnSync(process.execPath, [main, '--messages', 'none'], { encoding: 'utf8' });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /--messages must be a whole number ≥ 1, got "none"/);
});
