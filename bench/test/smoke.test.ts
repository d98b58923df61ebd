/**
 * One quick `pipe` run end to end: the real trio started by the bench (child processes, TLS,
 * demo credentials), both wsq protocols, and the NATS reference when nats-server is installed.
 * One run, so one trio start-up: that is most of this file's time.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runBench } from '../src/bench.js';
import { findNatsServer } from '../src/nats.js';
import { parseBenchArgs } from '../src/options.js';

const natsServer = findNatsServer();
/** --quick pipe, smaller still. */
const MESSAGES = 500;

t.test('pipe --quick: legacy and v1 against a self-started trio, and the NATS reference', async (t) => {
  if (!natsServer) {
    t.pass('the NATS reference', {
      skip: 'nats-server is not installed (not on PATH, not in /usr/sbin): the NATS reference is not tested',
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'wsq-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const svg = join(dir, 'pipe.svg');
  const argv = ['--scenario', 'pipe', '--quick', '--messages', String(MESSAGES), '--protocol', 'legacy,v1'];
  argv.push('--workers', '2', '--json', '--svg', svg, ...(natsServer ? ['--reference', 'nats'] : []));
  const parsed = parseBenchArgs(argv, {});
  if (parsed.kind !== 'run') throw new Error(parsed.output);
  const out: string[] = [];
  const err: string[] = [];
  const outcome = await runBench(parsed.config, {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
  });
  const stderr = err.join('');
  t.equal(outcome.exitCode, 0, 'exit status 0', { stderr });
  t.same(
    outcome.results.map((r) => r.system),
    natsServer ? ['wsq-legacy', 'wsq-v1', 'nats'] : ['wsq-legacy', 'wsq-v1'],
  );
  for (const r of outcome.results) {
    t.match(r, { scenario: 'pipe', published: MESSAGES, expectedDeliveries: MESSAGES }, r.system);
    t.equal(r.lost, 0, `${r.system}: nothing lost`);
    t.equal(r.duplicates, 0, `${r.system}: no duplicates`);
    t.equal(r.deliveries, MESSAGES, `${r.system}: every message delivered`);
    t.ok(r.deliveriesPerSec > 0 && r.latency.count === MESSAGES && r.latency.p50 > 0, `${r.system}: rates, latencies`);
    const processes = r.system === 'nats' ? ['bench', 'nats-server'] : ['bench', 'msgqueue', 'publisher', 'subscriber'];
    if (process.platform === 'linux')
      t.same(Object.keys(r.cpuSeconds ?? {}).sort(), processes, `${r.system}: CPU per process`);
  }
  const json = JSON.parse(out.join('')) as { results: { system: string; lost: number }[] };
  t.same(
    json.results.map((r) => r.lost),
    outcome.results.map(() => 0),
    '--json prints the results on stdout',
  );
  t.match(stderr, /scenario\s+system/, 'the table goes to stderr with --json');
  t.match(
    stderr,
    /CPU seconds from the start of publishing to the end of each run\npipe +wsq legacy: bench [0-9.]+/,
    'CPU per process under the table',
  );
  if (natsServer) t.match(stderr, /wsq v1 ÷ NATS: deliveries\/s/, 'the ratio is printed');
  t.equal(readFileSync(svg, 'utf8').match(/<path /g)?.length, outcome.results.length, 'one chart curve per system');
});
