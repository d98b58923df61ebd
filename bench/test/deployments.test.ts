/**
 * Several wsq deployments in one run: the trio on the msgqueue, the trio on JetStream R3 (a
 * three-node nats-server cluster the bench starts) and wsq-server, each measured as a system
 * of its own, all started before the first scenario and stopped at the end.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import t from 'tap';
import { METADATA_LEADER } from '../src/nats-cluster.js';
import { findNatsServer, natsConfig } from '../src/nats.js';
import { runBenchArgs } from './helpers/run-bench.js';

const natsServer = findNatsServer();
const MESSAGES = 200;

async function bench(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { outcome, stdout, stderr } = await runBenchArgs(argv);
  return { code: outcome.exitCode, stdout, stderr };
}

const clusterDirs = (): string[] => readdirSync(tmpdir()).filter((f) => f.startsWith('wsq-bench-nats-cluster-'));

t.test('a cluster node’s config: its name, routes to every node, its own store, no WebSocket', async (t) => {
  const conf = natsConfig({
    port: 4222,
    storeDir: '/tmp/s/n2/jetstream',
    cluster: { name: 'wsqbench', serverName: 'n2', port: 6222, routes: [6221, 6222, 6223] },
  });
  t.match(conf, 'server_name: "n2"');
  t.match(conf, /cluster \{\n {2}name: "wsqbench"\n {2}listen: "127\.0\.0\.1:6222"\n/);
  t.match(conf, 'routes: ["nats://127.0.0.1:6221", "nats://127.0.0.1:6222", "nats://127.0.0.1:6223"]');
  t.match(conf, 'jetstream { store_dir: "/tmp/s/n2/jetstream" }');
  t.notMatch(conf, 'websocket', 'wsq reaches the nodes on their client ports only');
  t.match(natsConfig({ port: 1, wsPort: 2, certFile: 'c', keyFile: 'k' }), 'listen: "127.0.0.1:2"');
  t.ok(METADATA_LEADER.test('[1] [INF] Self is new JetStream cluster metadata leader'));
  t.ok(METADATA_LEADER.test('[1] [INF] JetStream cluster new metadata leader: n1/wsqbench'));
  t.notOk(METADATA_LEADER.test('[1] [INF] JetStream cluster no metadata leader'));
});

t.test('--queue jetstream-r3 without nats-server: exit 2 with the install hint', async (t) => {
  const r = await bench(['--scenario', 'pipe', '--quick', '--queue', 'jetstream-r3', '--nats-server', '/nonexistent']);
  t.equal(r.code, 2);
  t.match(
    r.stderr,
    /^wsq-bench: --queue jetstream-r3 needs nats-server on PATH \(or --nats-server PATH\); e\.g\. apt-get install nats-server\n$/,
  );
});

t.test('trio on the msgqueue, trio on JetStream R3 and wsq-server in one run', async (t) => {
  if (!natsServer) return t.pass('skipped', { skip: 'nats-server is not installed (apt-get install nats-server)' });
  const before = clusterDirs();
  const argv = ['--scenario', 'pipe', '--quick', '--messages', String(MESSAGES), '--warmup-messages', '50'];
  argv.push('--workers', '2', '--protocol', 'v1', '--acks', '--json');
  argv.push('--topology', 'trio,server', '--queue', 'msgqueue,jetstream-r3');
  const r = await bench(argv);
  t.equal(r.code, 0, 'exit status 0: nothing lost', { stderr: r.stderr });
  const json = JSON.parse(r.stdout) as {
    meta: { topology: string; queue: string };
    warmup: { deployment: string }[];
    results: { system: string; deployment: string; lost: number; deliveries: number; acked: number }[];
    ratios: unknown[];
  };
  const ids = ['trio-msgqueue', 'trio-jetstream-r3', 'server'];
  t.same(
    json.results.map((x) => [x.system, x.deployment, x.lost, x.deliveries, x.acked]),
    ids.map((id) => ['wsq-v1', id, 0, MESSAGES, MESSAGES]),
    'one result per deployment, each with its deployment, nothing lost, every message acknowledged',
  );
  t.same(
    json.warmup.map((w) => w.deployment),
    ids,
    'one warm-up per system',
  );
  t.match(json.meta, { topology: 'trio,server', queue: 'msgqueue,jetstream-r3' });
  const labels = ['wsq v1 \\(trio, msgqueue\\)', 'wsq v1 \\(trio, JetStream R3\\)', 'wsq v1 \\(wsq-server\\)'];
  for (const label of labels) {
    t.match(r.stderr, new RegExp(`^pipe +${label} +[0-9,]+ +[0-9,]+ .* 0$`, 'm'), `a table row for ${label}`);
    t.match(r.stderr, new RegExp(`^pipe +${label}: .* = [0-9.]+ s, `, 'm'), `a CPU line for ${label}`);
  }
  t.match(
    r.stderr,
    /^pipe +wsq v1 \(trio, JetStream R3\): publisher [0-9.]+ \+ subscriber [0-9.]+ \+ nats-server n1 [0-9.]+ \+ nats-server n2 [0-9.]+ \+ nats-server n3 [0-9.]+ = /m,
    'the R3 system’s CPU sums its services and the three nats-server nodes',
  );
  t.match(
    r.stderr,
    /^pipe +wsq v1 \(trio, msgqueue\): msgqueue [0-9.]+ \+ publisher [0-9.]+ \+ subscriber [0-9.]+ = /m,
  );
  t.match(r.stderr, /^pipe +wsq v1 \(wsq-server\): wsq-server [0-9.]+ = /m);
  const starts = [...r.stderr.matchAll(/^starting .*…$/gm)].map((m) => m.index);
  t.equal(starts.length, 3, 'three deployments started');
  t.ok(
    starts.every((i) => i < r.stderr.search(/^warm-up pipe /m)),
    'all started before the first scenario',
  );
  t.match(r.stderr, /starting publisher and subscriber on JetStream R3 \(a three-node nats-server cluster\)…/);
  t.same(clusterDirs(), before, 'the cluster’s stores are removed at the end');
});
