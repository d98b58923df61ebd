/**
 * One quick `pipe` run end to end: the real trio started by the bench (child processes, TLS,
 * demo credentials), both wsq protocols (v1 with `--acks`: every message acknowledged), and the
 * NATS reference when nats-server is installed, each warmed up first. One run, so one trio start-up: that is most of this file's time.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { findNatsServer } from '../src/nats.js';
import { runBenchArgs } from './helpers/run-bench.js';

const natsServer = findNatsServer();
/** --quick pipe, smaller still. */
const MESSAGES = 500;
/** Not MESSAGES, so a warm-up message counted in a measured run would show. */
const WARMUP = 300;

t.test('pipe --quick: legacy and v1 against a self-started trio, and the NATS reference', async (t) => {
  if (!natsServer) {
    t.pass('the NATS reference', {
      skip: 'nats-server is not installed (not on PATH, not in /usr/sbin): the NATS reference is not tested',
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'wsq-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const svg = join(dir, 'pipe.svg');
  const argv = ['--scenario', 'pipe', '--quick', '--messages', String(MESSAGES), '--protocol', 'legacy,v1', '--acks'];
  argv.push('--workers', '2', '--json', '--svg', svg, '--warmup-messages', String(WARMUP));
  // Node flags reach the three services: each writes a CPU profile into `profiles` when it stops.
  const profiles = join(dir, 'profiles');
  argv.push(`--service-node-args=--cpu-prof,--cpu-prof-dir=${profiles}`);
  if (natsServer) argv.push('--reference', 'nats');
  const { outcome, stdout, stderr } = await runBenchArgs(argv);
  t.equal(outcome.exitCode, 0, 'exit status 0', { stderr });
  const systems = natsServer ? ['wsq-legacy', 'wsq-v1', 'nats'] : ['wsq-legacy', 'wsq-v1'];
  t.same(
    outcome.results.map((r) => r.system),
    systems,
    'one measured run per system: no warm-up among the results',
  );
  t.same(
    outcome.warmups.map((w) => w.system),
    systems,
    'one warm-up per system, the reference too',
  );
  for (const w of outcome.warmups) {
    t.match(w, { messages: WARMUP, deliveries: WARMUP, lost: 0, duplicates: 0 }, `${w.system} warm-up`);
    const label = { 'wsq-legacy': 'wsq legacy', 'wsq-v1': 'wsq v1', nats: 'NATS', jetstream: 'JetStream' }[w.system];
    t.equal(w.scenario, 'pipe', `${w.system}: the warm-up has the scenario's shape`);
    const line = new RegExp(
      `^warm-up pipe ${label}: ${WARMUP} messages, [0-9,]+ deliveries/s \\(not measured\\)$`,
      'm',
    );
    t.match(stderr, line, `${w.system}: the warm-up line`);
    t.ok(stderr.search(line) < stderr.indexOf(`pipe ${label}: ${MESSAGES} messages`), `${w.system}: warmed up first`);
  }
  for (const r of outcome.results) {
    t.match(r, { scenario: 'pipe', published: MESSAGES, expectedDeliveries: MESSAGES }, r.system);
    t.equal(r.lost, 0, `${r.system}: nothing lost`);
    t.equal(r.duplicates, 0, `${r.system}: no duplicates`);
    t.equal(r.unexpected, 0, `${r.system}: nothing from another topic (the warm-up's)`);
    t.equal(r.deliveries, MESSAGES, `${r.system}: every message delivered`);
    t.equal(r.acked, r.system === 'wsq-v1' ? MESSAGES : undefined, `${r.system}: acks counted with v1 only`);
    t.ok(r.deliveriesPerSec > 0 && r.latency.count === MESSAGES && r.latency.p50 > 0, `${r.system}: rates, latencies`);
    const processes = r.system === 'nats' ? ['bench', 'nats-server'] : ['bench', 'msgqueue', 'publisher', 'subscriber'];
    if (process.platform === 'linux')
      t.same(Object.keys(r.cpuSeconds ?? {}).sort(), processes, `${r.system}: CPU per process`);
  }
  const json = JSON.parse(stdout) as {
    meta: { warmupMessages: number };
    warmup: { system: string; messages: number }[];
    results: { system: string; lost: number; published: number }[];
    ratios: unknown[];
  };
  t.same(
    json.results.map((r) => [r.lost, r.published]),
    outcome.results.map(() => [0, MESSAGES]),
    '--json prints the measured results on stdout',
  );
  t.equal(json.meta.warmupMessages, WARMUP);
  t.same(
    json.warmup.map((w) => [w.system, w.messages]),
    systems.map((s) => [s, WARMUP]),
    'the warm-ups in a field of their own',
  );
  t.equal(json.ratios.length, natsServer ? 2 : 0, 'ratios of the measured runs only');
  t.equal(stderr.match(/^pipe +wsq legacy +[0-9,]+ +[0-9,]+ /gm)?.length, 1, 'one table row for wsq legacy');
  t.equal(stderr.match(/^pipe +wsq legacy: msgqueue /gm)?.length, 1, 'one CPU line for wsq legacy');
  t.match(stderr, /scenario\s+system/, 'the table goes to stderr with --json');
  t.match(
    stderr,
    /CPU seconds from the start of publishing to the end of each run\npipe +wsq legacy: msgqueue [0-9.]+ \+ publisher [0-9.]+ \+ subscriber [0-9.]+ = [0-9.]+ s, [0-9.]+ µs per delivery; clients \(bench\) [0-9.]+ s/,
    'CPU per process under the table',
  );
  if (natsServer) t.match(stderr, /wsq v1 ÷ NATS: deliveries\/s/, 'the ratio is printed');
  t.match(
    stderr,
    new RegExp(`note: pipe wsq v1: ${MESSAGES} of ${MESSAGES} acknowledged, ack p50 [0-9.]+ ms, p99 [0-9.]+ ms\n`),
    'the acks and their latency under the table',
  );
  t.equal(readFileSync(svg, 'utf8').match(/<path /g)?.length, outcome.results.length, 'one chart curve per system');
  // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: a service's worker threads write their own.
  const pids = new Set(readdirSync(profiles).map((f) => f.split('.')[3]));
  t.equal(pids.size, 3, '--service-node-args reached the three services');
});
