/**
 * `--topology server` and `--queue jetstream`: wsq-server is started when its build exists
 * and is a clear exit 2 when it does not; a JetStream home the services refuse is a clear
 * exit 2 too. Once wsq-server and the JetStream home land, the same runs must measure.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { findNatsServer } from '../src/nats.js';
import { SERVER_MAIN, SetupError, serverArgs, startServer } from '../src/trio.js';
import { runBenchArgs } from './helpers/run-bench.js';

async function bench(argv: string[]): Promise<{ code: number; stderr: string; lost: number[] }> {
  const { outcome, stderr } = await runBenchArgs(argv);
  return { code: outcome.exitCode, stderr, lost: outcome.results.map((r) => r.lost) };
}

const QUICK = ['--scenario', 'pipe', '--quick', '--messages', '200', '--warmup-messages', '0', '--workers', '2'];

t.test('wsq-server gets the three ports, a data dir and the trio’s raised limits once each', async (t) => {
  const args = serverArgs({ queue: 1, publish: 2, subscribe: 3 }, '/d');
  t.same(args.slice(0, 8), ['--data-dir', '/d', '--queue-port', '1', '--publish-port', '2', '--subscribe-port', '3']);
  t.equal(args.filter((a) => a === '--max-connections').length, 1, 'a flag both services take appears once');
  t.ok(args.includes('--publish-rate-per-sec'));
});

t.test('startServer: missing build, and a server that exits, are SetupErrors', async (t) => {
  await t.rejects(startServer({}, '/nonexistent/server/dist/src/main.js'), {
    name: 'SetupError',
    message: /needs the wsq-server build at \/nonexistent/,
  });
  const dir = mkdtempSync(join(tmpdir(), 'wsq-bench-topology-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const main = join(dir, 'main.js');
  writeFileSync(main, "process.stderr.write('unknown flag --queue-port\\n'); process.exit(2);\n");
  const err = await startServer({}, main, main).catch((e: unknown) => e);
  t.ok(err instanceof SetupError, 'a SetupError');
  t.match((err as Error).message, /wsq-server did not start: .*unknown flag --queue-port/);
});

t.test('--topology server: measured when built, else exit 2 with the reason', async (t) => {
  const r = await bench([...QUICK, '--protocol', 'v1', '--topology', 'server']);
  if (existsSync(SERVER_MAIN)) {
    t.equal(r.code, 0, 'wsq-server measured', { stderr: r.stderr });
    t.same(r.lost, [0]);
  } else {
    t.equal(r.code, 2);
    t.match(r.stderr, /--topology server needs the wsq-server build at .*server\/dist\/src\/main\.js/);
  }
});

t.test(
  '--queue jetstream: the trio on the bench’s own nats-server, or exit 2 when the services refuse it',
  async (t) => {
    if (!findNatsServer()) {
      t.pass('skipped', { skip: 'nats-server is not installed (apt-get install nats-server)' });
      return;
    }
    const r = await bench([...QUICK, '--protocol', 'v1', '--acks', '--queue', 'jetstream']);
    if (r.code === 0) t.same(r.lost, [0], 'measured on JetStream');
    else {
      t.equal(r.code, 2, 'a clear refusal', { stderr: r.stderr });
      t.match(
        r.stderr,
        /the services did not start on the JetStream home \(--queue nats:\/\/127\.0\.0\.1:\d+\).*queue/s,
      );
    }
  },
);
