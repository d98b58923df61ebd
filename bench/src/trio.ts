/**
 * Starts msgqueue, publisher and subscriber as child processes (what `npx wsq-*` runs) on free
 * ports, with certificates generated into a temp dir, --demo credentials and a temp data dir,
 * and learns their ports from their "listening" log lines. Durability settings stay at their
 * defaults; only the abuse limits a load generator trips by design (per-connection publish
 * rate, connections per user) are raised. With `profile`, each writes a V8 CPU profile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEMO_PASSWORD, DEMO_USER, freePort, generateCerts } from '@wsq/core';

/** The repository root, from this file's place (bench/dist/src/trio.js). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SERVICE_NAMES = ['msgqueue', 'publisher', 'subscriber'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Limits raised for benchmarking: they guard against abuse, not against loss. */
export const BENCH_SERVICE_ARGS: Readonly<Record<ServiceName, readonly string[]>> = {
  msgqueue: [],
  publisher: [
    '--publish-rate-per-sec',
    '1000000000',
    '--publish-burst',
    '1000000000',
    '--max-connections',
    '100000',
    '--max-connections-per-user',
    '100000',
  ],
  subscriber: ['--max-connections', '100000', '--max-connections-per-user', '100000'],
};

const READY_POLL_MS = 50;
const STOP_TIMEOUT_MS = 15_000;
const START_TIMEOUT_MS = 30_000;
/** Warning and error log lines kept per service, for the report. */
const MAX_KEPT_LINES = 20;

export interface TrioOptions {
  /** Extra flags per service (after the bench's own). */
  extraArgs?: Partial<Record<ServiceName, readonly string[]>>;
  /** Directory for `<service>.cpuprofile` files. */
  profileDir?: string;
  /** Node.js flags for every service (before its script). */
  nodeArgs?: readonly string[];
  logLevel?: string;
}

export interface Trio {
  /** The msgqueue's base URL (for its /metrics). */
  msgqueueUrl: string;
  publishUrl: string;
  subscribeUrl: string;
  user: string;
  password: string;
  /** CA certificate PEM. */
  ca: string;
  /** Each service's process id (for its CPU time). */
  pids(): Record<ServiceName, number | undefined>;
  /** Warning/error log lines each service printed (the newest MAX_KEPT_LINES). */
  warnings(): Record<ServiceName, string[]>;
  stop(): Promise<void>;
}

interface Proc {
  name: ServiceName;
  child: ChildProcess;
  port: Promise<number>;
  warnings: string[];
  exited: Promise<void>;
}

/** Node.js's own flags for a service: the CPU profile when asked for, then `nodeArgs`. */
export function serviceExecArgv(name: ServiceName, opts: Pick<TrioOptions, 'profileDir' | 'nodeArgs'>): string[] {
  const { profileDir, nodeArgs = [] } = opts;
  const profile = profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  return [...profile, ...nodeArgs];
}

function startService(name: ServiceName, args: string[], opts: TrioOptions): Proc {
  const execArgv = serviceExecArgv(name, opts);
  // The services run as in production: no NODE_OPTIONS hooks inherited from whatever runs the
  // bench (a test runner's loaders would slow every service down).
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [...execArgv, join(ROOT, name, 'dist/src/main.js'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const warnings: string[] = [];
  const stderr: string[] = [];
  const keep = (list: string[], line: string): void => {
    list.push(line);
    if (list.length > MAX_KEPT_LINES) list.shift();
  };
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const port = new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return keep(warnings, line);
      }
      // pino levels: 40 warn, 50 error, 60 fatal.
      if (typeof entry.level === 'number' && entry.level >= 40 && !/demo/i.test(String(entry.msg)))
        keep(warnings, line);
      if (typeof entry.port === 'number' && String(entry.msg).includes('listening')) {
        clearTimeout(timer);
        resolvePort(entry.port);
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => keep(stderr, line));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}): ${stderr.join('\n')}`));
    });
  });
  return { name, child, port, warnings, exited };
}

/** Polls GET /readyz until 200: publisher and subscriber are ready once linked to the msgqueue. */
async function waitReady(port: number, ca: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const status = await new Promise<number>((res) => {
      const req = httpsGet({ host: '127.0.0.1', port, path: '/readyz', ca }, (r) => {
        r.resume();
        res(r.statusCode ?? 0);
      });
      req.on('error', () => res(0));
    });
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`port ${port}: /readyz still ${status} after ${START_TIMEOUT_MS} ms`);
    await sleep(READY_POLL_MS);
  }
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await p.exited;
  clearTimeout(timer);
}

export async function startTrio(opts: TrioOptions = {}): Promise<Trio> {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-bench-'));
  const certs = await generateCerts(2);
  const certPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  const caPath = join(dir, 'ca.crt');
  writeFileSync(certPath, certs.cert);
  writeFileSync(keyPath, certs.key, { mode: 0o600 });
  writeFileSync(caPath, certs.caCert);
  if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });
  const common = ['--demo', '--host', '127.0.0.1', '--cert', certPath, '--key', keyPath, '--ca', caPath];
  common.push('--log-level', opts.logLevel ?? 'info');
  const args = (name: ServiceName, more: string[]): string[] => [
    ...common,
    ...more,
    ...BENCH_SERVICE_ARGS[name],
    ...(opts.extraArgs?.[name] ?? []),
  ];
  const procs: Proc[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.filter((p) => p.name !== 'msgqueue').map(stopProc));
    await Promise.all(procs.filter((p) => p.name === 'msgqueue').map(stopProc));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // All three start at once: the msgqueue gets a port picked now, and publisher and subscriber
    // retry their link (100 ms backoff) until it listens. Saves one process start-up.
    const queuePort = await freePort();
    const queue = `wss://127.0.0.1:${queuePort}`;
    const msgqueue = startService(
      'msgqueue',
      args('msgqueue', ['--data-dir', join(dir, 'data'), '--port', String(queuePort)]),
      opts,
    );
    const publisher = startService('publisher', args('publisher', ['--port', '0', '--queue', queue]), opts);
    const subscriber = startService(
      'subscriber',
      args('subscriber', ['--port', '0', '--queue', queue, '--name', 'bench']),
      opts,
    );
    procs.push(msgqueue, publisher, subscriber);
    await msgqueue.port;
    const [pubPort, subPort] = await Promise.all([publisher.port, subscriber.port]);
    await Promise.all([pubPort, subPort].map((port) => waitReady(port, certs.caCert)));
    return {
      msgqueueUrl: queue,
      publishUrl: `wss://127.0.0.1:${pubPort}/publish`,
      subscribeUrl: `wss://127.0.0.1:${subPort}/subscribe`,
      user: DEMO_USER,
      password: DEMO_PASSWORD,
      ca: certs.caCert,
      pids: () =>
        Object.fromEntries(procs.map((p) => [p.name, p.child.pid])) as Record<ServiceName, number | undefined>,
      warnings: () => Object.fromEntries(procs.map((p) => [p.name, [...p.warnings]])) as Record<ServiceName, string[]>,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
