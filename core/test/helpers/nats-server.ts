/**
 * Real nats-server processes for tests of the JetStream home: each on free ports with its own
 * JetStream store in a temp dir (never the shared server on 4222). Found on PATH or in
 * /usr/sbin; without it the tests skip with NATS_SKIP.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort } from '../../src/cli/free-port.js';
import type { Teardown } from './index.js';

export const NATS_SKIP = 'nats-server not found (Debian: apt-get install nats-server)';

let found: string | null | undefined;

/** The nats-server binary, or undefined. */
export function natsServerBinary(): string | undefined {
  if (found === undefined) {
    const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
    const onPath = which.status === 0 ? which.stdout.trim() : '';
    found = onPath !== '' ? onPath : existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : null;
  }
  return found ?? undefined;
}

/** For `t.test(name, natsSkip(), fn)`: skipped with the install hint when there is no nats-server. */
export function natsSkip(): { skip: string | false } {
  return { skip: natsServerBinary() ? false : NATS_SKIP };
}

export interface NatsNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly clusterPort: number;
  /** Kill -9 (and wait for the exit). */
  kill9(): Promise<void>;
  /** Start again on the same ports and store. */
  restart(): Promise<void>;
  readonly running: boolean;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

interface NodeSpec {
  name: string;
  port: number;
  clusterPort: number;
  dir: string;
  routes: number[];
  cluster: boolean;
  /** More nats-server flags (TLS, auth). */
  extra: readonly string[];
}

function launch(spec: NodeSpec): Promise<ChildProcess> {
  const args = ['-a', '127.0.0.1', '-p', String(spec.port), '-js', '-sd', spec.dir, '-n', spec.name];
  if (spec.cluster) {
    args.push('--cluster_name', 'wsqtest', '-cluster', `nats://127.0.0.1:${spec.clusterPort}`);
    args.push('-routes', spec.routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
  }
  args.push(...spec.extra);
  const child = spawn(natsServerBinary()!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const rl = createInterface({ input: child.stderr! });
    rl.on('line', (line) => {
      if (lines.length < 200) lines.push(line);
      if (line.includes('Server is ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${lines.join('\n')}`)));
  });
}

async function startNodes(t: Teardown, n: number, extra: readonly string[] = []): Promise<NatsNode[]> {
  const base = mkdtempSync(join(tmpdir(), 'wsq-nats-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const specs: NodeSpec[] = [];
  for (let i = 0; i < n; i++) {
    specs.push({
      name: `n${i + 1}`,
      port: await freePort(),
      clusterPort: n > 1 ? await freePort() : 0,
      dir: join(base, `n${i + 1}`),
      routes: [],
      cluster: n > 1,
      extra,
    });
  }
  for (const s of specs) s.routes = specs.filter((o) => o !== s).map((o) => o.clusterPort);
  return Promise.all(
    specs.map(async (spec) => {
      let child = await launch(spec);
      const node: NatsNode = {
        name: spec.name,
        port: spec.port,
        url: `nats://127.0.0.1:${spec.port}`,
        clusterPort: spec.clusterPort,
        get running() {
          return child.exitCode === null && child.signalCode === null;
        },
        async kill9() {
          if (!node.running) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGKILL');
          await exited;
        },
        async restart() {
          await node.kill9();
          child = await launch(spec);
        },
      };
      t.teardown(() => node.kill9());
      return node;
    }),
  );
}

/** One JetStream-enabled nats-server, with more flags (e.g. `--tls …`, `--auth TOKEN`). */
export async function startNats(t: Teardown, extra: readonly string[] = []): Promise<NatsNode> {
  return (await startNodes(t, 1, extra))[0]!;
}

/** `n` nats-servers routed into one JetStream cluster on loopback. */
export function startNatsCluster(t: Teardown, n = 3): Promise<NatsNode[]> {
  return startNodes(t, n);
}

/** The server name (n1, n2, …) of the stream's RAFT leader, asked of the running nodes. */
export async function streamLeader(nodes: readonly NatsNode[], stream: string): Promise<string | undefined> {
  const nc = await connect({ servers: nodes.filter((n) => n.running).map((n) => n.url) });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream)).cluster?.leader;
  } finally {
    await nc.close();
  }
}
