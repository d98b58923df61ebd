/**
 * Starts msgqueue, publisher and subscriber as child processes (what `npx wsq-*` runs) on free
 * ports, with certificates generated into a temp dir, --demo credentials and a temp data dir,
 * and learns their ports from their "listening" log lines. Durability settings stay at their
 * defaults; only the abuse limits a load generator trips by design (per-connection publish
 * rate, connections per user) are raised. With `profile`, each writes a V8 CPU profile.
 *
 * Two other shapes of wsq start here too: the trio on JetStream (`queue: nats://…`: no
 * msgqueue, publisher and subscriber on nats-server(s) started by the caller) and the single-process
 * wsq-server (startServer). Every service runs under `sh -c 'ulimit -n …; exec node …'`, so
 * its descriptor limit is as high as the host allows (the connections scenario needs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEMO_PASSWORD, DEMO_USER, freePort, generateCerts } from '@wsq/core';

/** The repository root, from this file's place (bench/dist/src/trio.js). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SERVICE_NAMES = ['msgqueue', 'publisher', 'subscriber'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
/** A process the bench starts: one of the trio, or the single-process wsq-server. */
export type ProcessName = ServiceName | 'wsq-server';

/** The descriptor limit services ask for (the host's hard limit caps it; see fdLimitOf). */
export const SERVICE_FD_LIMIT = 1_048_576;

/** The single-process wsq-server's entry point, once the server workspace is built. */
export const SERVER_MAIN = join(ROOT, 'server', 'dist', 'src', 'main.js');
/** Its launcher: main.js only exports main(), as every module but a bin runs nothing on import. */
const SERVER_BIN = join(ROOT, 'server', 'bin', 'wsq-server.js');

/** A start-up problem the user can fix (missing build, flag refused): the bench exits 2 with it. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SetupError';
  }
}

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
  /**
   * The queue's home: undefined for a started msgqueue, or `nats://` URLs (comma-separated,
   * with `queueUser`, `queuePassword`, and the stream's replicas) for wsq's JetStream home:
   * then no msgqueue starts.
   */
  queue?: { url: string; user: string; password: string; replicas?: number };
  /** Extra flags for every service (after the bench's own), e.g. the subscriber's ping interval. */
  commonArgs?: readonly string[];
}

export interface Trio {
  /** Base URLs whose /metrics hold the services' counters (each registry once). */
  metricsUrls: string[];
  publishUrl: string;
  subscribeUrl: string;
  user: string;
  password: string;
  /** CA certificate PEM. */
  ca: string;
  /** Each process's id (for its CPU time): the services, and the nats-server(s) holding the queue when on JetStream. */
  pids(): Readonly<Record<string, number | undefined>>;
  /** The process whose memory holds the subscribers' connections. */
  subscriberPid(): number | undefined;
  /** Warning/error log lines each service printed (the newest MAX_KEPT_LINES). */
  warnings(): Partial<Record<ProcessName, string[]>>;
  stop(): Promise<void>;
}

interface Proc {
  name: ProcessName;
  child: ChildProcess;
  port: Promise<number>;
  warnings: string[];
  exited: Promise<void>;
}

/** Node.js's own flags for a service: the CPU profile when asked for, then `nodeArgs`. */
export function serviceExecArgv(name: ProcessName, opts: Pick<TrioOptions, 'profileDir' | 'nodeArgs'>): string[] {
  const { profileDir, nodeArgs = [] } = opts;
  const profile = profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  return [...profile, ...nodeArgs];
}

/**
 * `sh -c` arguments that raise the descriptor limit to `limit` (or to the hard limit, when
 * `limit` is above it) and exec the command.
 */
export function withFdLimit(limit: number, command: readonly string[]): string[] {
  return ['-c', 'ulimit -n "$0" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"', String(limit), ...command];
}

/** A process's soft descriptor limit from /proc/<pid>/limits, or undefined. */
export function fdLimitOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : undefined;
  } catch {
    return undefined;
  }
}

function startService(name: ProcessName, script: string, args: string[], opts: TrioOptions): Proc {
  const execArgv = serviceExecArgv(name, opts);
  // The services run as in production: no NODE_OPTIONS hooks inherited from whatever runs the
  // bench (a test runner's loaders would slow every service down).
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn('sh', withFdLimit(SERVICE_FD_LIMIT, [process.execPath, ...execArgv, script, ...args]), {
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
      const why = [...stderr, ...warnings].join('\n');
      reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}): ${why}`));
    });
  });
  return { name, child, port, warnings, exited };
}

/** Polls GET /readyz until 200: publisher and subscriber are ready once linked to the msgqueue. */
async function waitReady(port: number, ca: string, gone: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (gone()) throw new Error(`port ${port}: the process exited before it was ready`);
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

async function tempCerts(opts: TrioOptions): Promise<{ dir: string; caCert: string; common: string[] }> {
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
  return { dir, caCert: certs.caCert, common };
}

function stopAll(procs: readonly Proc[], dir: string): () => Promise<void> {
  return async () => {
    await Promise.all(procs.filter((p) => p.name !== 'msgqueue').map(stopProc));
    await Promise.all(procs.filter((p) => p.name === 'msgqueue').map(stopProc));
    rmSync(dir, { recursive: true, force: true });
  };
}

function describe(
  procs: readonly Proc[],
  base: Omit<Trio, 'pids' | 'warnings' | 'stop' | 'subscriberPid'>,
  stop: () => Promise<void>,
): Trio {
  return {
    ...base,
    pids: () => Object.fromEntries(procs.map((p) => [p.name, p.child.pid])),
    subscriberPid: () => procs.find((p) => p.name === 'subscriber' || p.name === 'wsq-server')?.child.pid,
    warnings: () => Object.fromEntries(procs.map((p) => [p.name, [...p.warnings]])),
    stop,
  };
}

export async function startTrio(opts: TrioOptions = {}): Promise<Trio> {
  const { dir, caCert, common } = await tempCerts(opts);
  const args = (name: ServiceName, more: string[]): string[] => [
    ...common,
    ...more,
    ...BENCH_SERVICE_ARGS[name],
    ...(opts.commonArgs ?? []),
    ...(opts.extraArgs?.[name] ?? []),
  ];
  const script = (name: ServiceName): string => join(ROOT, name, 'dist/src/main.js');
  const procs: Proc[] = [];
  const stop = stopAll(procs, dir);
  try {
    // All three start at once: the msgqueue gets a port picked now, and publisher and subscriber
    // retry their link (100 ms backoff) until it listens. Saves one process start-up.
    let queueArgs: string[];
    let metricsUrls: string[];
    if (opts.queue) {
      queueArgs = ['--queue', opts.queue.url, '--queue-user', opts.queue.user, '--queue-password', opts.queue.password];
      if (opts.queue.replicas !== undefined) queueArgs.push('--stream-replicas', String(opts.queue.replicas));
      metricsUrls = [];
    } else {
      const queuePort = await freePort();
      const queue = `wss://127.0.0.1:${queuePort}`;
      const dataDir = join(dir, 'data');
      const msgqueue = startService(
        'msgqueue',
        script('msgqueue'),
        args('msgqueue', ['--data-dir', dataDir, '--port', String(queuePort)]),
        opts,
      );
      procs.push(msgqueue);
      queueArgs = ['--queue', queue];
      metricsUrls = [queue];
    }
    const publisher = startService(
      'publisher',
      script('publisher'),
      args('publisher', ['--port', '0', ...queueArgs]),
      opts,
    );
    const subscriber = startService(
      'subscriber',
      script('subscriber'),
      args('subscriber', ['--port', '0', ...queueArgs, '--name', 'bench']),
      opts,
    );
    procs.push(publisher, subscriber);
    let pubPort: number, subPort: number;
    try {
      await Promise.all(procs.map((p) => p.port));
      [pubPort, subPort] = await Promise.all([publisher.port, subscriber.port]);
    } catch (err) {
      if (opts.queue) {
        throw new SetupError(
          `the services did not start on the JetStream home (--queue ${opts.queue.url}); ` +
            `do publisher and subscriber take a nats:// --queue yet? ${(err as Error).message}`,
        );
      }
      throw err;
    }
    await Promise.all([pubPort, subPort].map((port) => waitReady(port, caCert)));
    const publishUrl = `wss://127.0.0.1:${pubPort}/publish`;
    const subscribeUrl = `wss://127.0.0.1:${subPort}/subscribe`;
    return describe(
      procs,
      {
        metricsUrls: [publishUrl, subscribeUrl, ...metricsUrls],
        publishUrl,
        subscribeUrl,
        user: DEMO_USER,
        password: DEMO_PASSWORD,
        ca: caCert,
      },
      stop,
    );
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The single-process wsq-server's flags for the bench: the union of the trio's (each flag
 * once), its three ports, and a temp data dir.
 */
export function serverArgs(ports: { queue: number; publish: number; subscribe: number }, dataDir: string): string[] {
  const merged = new Map<string, string>();
  for (const name of SERVICE_NAMES) {
    const a = BENCH_SERVICE_ARGS[name];
    for (let i = 0; i + 1 < a.length; i += 2) merged.set(a[i], a[i + 1]);
  }
  return [
    '--data-dir',
    dataDir,
    '--queue-port',
    String(ports.queue),
    '--publish-port',
    String(ports.publish),
    '--subscribe-port',
    String(ports.subscribe),
    ...[...merged].flat(),
  ];
}

/** Starts the single-process wsq-server through its launcher; a SetupError when it is not built (no `main`). */
export async function startServer(opts: TrioOptions = {}, main = SERVER_MAIN, launcher = SERVER_BIN): Promise<Trio> {
  if (!existsSync(main)) {
    throw new SetupError(
      `--topology server needs the wsq-server build at ${main}, which does not exist ` +
        '(the server workspace is not in this tree yet, or `npx tsc -b` has not run)',
    );
  }
  const { dir, caCert, common } = await tempCerts(opts);
  const procs: Proc[] = [];
  const stop = stopAll(procs, dir);
  try {
    const ports = { queue: await freePort(), publish: await freePort(), subscribe: await freePort() };
    const extra = [
      ...(opts.extraArgs?.msgqueue ?? []),
      ...(opts.extraArgs?.publisher ?? []),
      ...(opts.extraArgs?.subscriber ?? []),
    ];
    const args = [...common, ...serverArgs(ports, join(dir, 'data')), ...(opts.commonArgs ?? []), ...extra];
    const server = startService('wsq-server', launcher, args, opts);
    procs.push(server);
    // Its three "listening" lines need not carry a port the way the trio's do: readiness is
    // learnt from /readyz on the ports the bench chose; an exit before that is the error.
    const died = server.port.then(
      () => server.exited.then(() => Promise.reject(new Error('exited'))),
      (err: unknown) => Promise.reject(err as Error),
    );
    died.catch(() => undefined);
    try {
      const gone = (): boolean => server.child.exitCode !== null || server.child.signalCode !== null;
      await Promise.race([
        Promise.all([ports.publish, ports.subscribe].map((port) => waitReady(port, caCert, gone))),
        died,
      ]);
    } catch (err) {
      throw new SetupError(`wsq-server did not start: ${(err as Error).message}`);
    }
    const publishUrl = `wss://127.0.0.1:${ports.publish}/publish`;
    return describe(
      procs,
      {
        // One registry, served on every port: scraped once.
        metricsUrls: [publishUrl],
        publishUrl,
        subscribeUrl: `wss://127.0.0.1:${ports.subscribe}/subscribe`,
        user: DEMO_USER,
        password: DEMO_PASSWORD,
        ca: caCert,
      },
      stop,
    );
  } catch (err) {
    await stop();
    throw err;
  }
}
