/**
 * The NATS reference: starts `nats-server` with a TLS WebSocket listener on a free port (and
 * its plain client port on another), with its own generated certificate and the same demo
 * user/password wsq uses, so both systems do TLS and authentication. Waits for "Server is ready".
 * With `jetstream`, JetStream is on with a store in the server's temp dir (files: the
 * reference's stream is file-backed), and createBenchStream makes the stream the `jetstream`
 * reference publishes to.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { DEMO_PASSWORD, DEMO_USER, freePort, generateCerts } from '@wsq/core';
import { natsRequest } from './nats-client.js';
import { SCENARIOS } from './options.js';
import type { Endpoint } from './transport.js';

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const FALLBACK_PATHS = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'];

export interface NatsServer {
  wsUrl: string;
  /** The plain client port's URL (no TLS), for wsq's JetStream home (`--queue nats://…`). */
  natsUrl: string;
  /** JetStream is on (file store in a temp dir removed at stop). */
  jetstream: boolean;
  ca: string;
  user: string;
  password: string;
  version: string;
  /** The nats-server process id (for its CPU time). */
  pid: number | undefined;
  stop(): Promise<void>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The nats-server binary: the explicit path, else PATH, else the usual system places. */
export function findNatsServer(explicit?: string, path = process.env.PATH ?? ''): string | undefined {
  if (explicit !== undefined) return executable(explicit) ? explicit : undefined;
  const candidates = [
    ...path
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'nats-server')),
    ...FALLBACK_PATHS,
  ];
  return candidates.find(executable);
}

/** A node's part in a nats-server cluster (see nats-cluster.ts). */
export interface NatsClusterNode {
  /** The cluster's name, the same on every node. */
  name: string;
  /** This node's server_name (JetStream in a cluster needs one). */
  serverName: string;
  /** This node's route port. */
  port: number;
  /** Every node's route port (its own too: nats-server skips it). */
  routes: readonly number[];
}

export function natsConfig(o: {
  port: number;
  /** The TLS WebSocket listener's port, with its certificate; none without it. */
  wsPort?: number;
  certFile?: string;
  keyFile?: string;
  storeDir?: string;
  pingIntervalMs?: number;
  cluster?: NatsClusterNode;
}): string {
  const jetstream = o.storeDir === undefined ? [] : [`jetstream { store_dir: "${o.storeDir}" }`];
  const ping = o.pingIntervalMs === undefined ? [] : [`ping_interval: "${o.pingIntervalMs}ms"`];
  const c = o.cluster;
  const cluster =
    c === undefined
      ? []
      : [
          `server_name: "${c.serverName}"`,
          `cluster {`,
          `  name: "${c.name}"`,
          `  listen: "127.0.0.1:${c.port}"`,
          `  routes: [${c.routes.map((p) => `"nats://127.0.0.1:${p}"`).join(', ')}]`,
          `}`,
        ];
  const websocket =
    o.wsPort === undefined
      ? []
      : [
          `websocket {`,
          `  listen: "127.0.0.1:${o.wsPort}"`,
          `  tls { cert_file: "${o.certFile}", key_file: "${o.keyFile}" }`,
          `  compression: false`,
          `}`,
        ];
  return [
    ...jetstream,
    ...ping,
    ...cluster,
    `host: "127.0.0.1"`,
    `port: ${o.port}`,
    // The connections scenario opens up to 100 000 (the default allows 65 536).
    `max_connections: 200000`,
    `authorization { user: "${DEMO_USER}", password: "${DEMO_PASSWORD}" }`,
    ...websocket,
    '',
  ].join('\n');
}

/** A running nats-server process. */
export interface NatsProcess {
  version: string;
  pid: number | undefined;
  /** SIGTERM, SIGKILL after STOP_TIMEOUT_MS; resolves once it has exited. */
  stop(): Promise<void>;
}

/** nats-server's line once its listeners are up. */
export const NATS_READY = /Server is ready/;

/**
 * Runs `binary -c confFile` and resolves once a log line matches `ready`; rejects (the
 * process stopped) when it exits first or is not ready within START_TIMEOUT_MS.
 */
export async function spawnNats(binary: string, confFile: string, ready: RegExp = NATS_READY): Promise<NatsProcess> {
  const child = spawn(binary, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  // The start-up lines, for the error when it does not start; none are kept once it is ready.
  const lines: string[] = [];
  let started = false;
  let version = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server not ready: ${lines.join('\n')}`)), START_TIMEOUT_MS);
      const onLine = (line: string): void => {
        if (started) return;
        lines.push(line);
        version ||= /Version:\s+(\S+)/.exec(line)?.[1] ?? '';
        if (ready.test(line)) {
          started = true;
          clearTimeout(timer);
          resolve();
        }
      };
      createInterface({ input: child.stderr! }).on('line', onLine);
      createInterface({ input: child.stdout! }).on('line', onLine);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${child.exitCode ?? child.signalCode}): ${lines.join('\n')}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  lines.length = 0;
  return { version, pid: child.pid, stop };
}

export async function startNatsServer(
  binary: string,
  opts: { jetstream?: boolean; pingIntervalMs?: number } = {},
): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-bench-nats-'));
  let proc: NatsProcess;
  let ports: { port: number; wsPort: number };
  let caCert: string;
  try {
    const certs = await generateCerts(2);
    caCert = certs.caCert;
    const certFile = join(dir, 'server.crt');
    const keyFile = join(dir, 'server.key');
    writeFileSync(certFile, certs.cert);
    writeFileSync(keyFile, certs.key, { mode: 0o600 });
    ports = { port: await freePort(), wsPort: await freePort() };
    const confFile = join(dir, 'nats.conf');
    const storeDir = opts.jetstream === true ? join(dir, 'jetstream') : undefined;
    writeFileSync(confFile, natsConfig({ ...ports, certFile, keyFile, storeDir, pingIntervalMs: opts.pingIntervalMs }));
    proc = await spawnNats(binary, confFile);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    wsUrl: `wss://127.0.0.1:${ports.wsPort}`,
    natsUrl: `nats://127.0.0.1:${ports.port}`,
    jetstream: opts.jetstream === true,
    ca: caCert,
    user: DEMO_USER,
    password: DEMO_PASSWORD,
    version: proc.version,
    pid: proc.pid,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The stream the `jetstream` reference publishes to. */
export const BENCH_STREAM = 'WSQBENCH';

/**
 * How the bench's clients reach a started nats-server: one WebSocket URL for both roles. The
 * `jetstream` system publishes with ids and PubAcks (at most `inFlight` unanswered) to
 * BENCH_STREAM.
 */
export function natsEndpoint(nats: NatsServer, system: 'nats' | 'jetstream' = 'nats', inFlight = 0): Endpoint {
  const ep: Endpoint = {
    system,
    publishUrl: nats.wsUrl,
    subscribeUrl: nats.wsUrl,
    user: nats.user,
    password: nats.password,
    ca: nats.ca,
  };
  return system === 'jetstream' ? { ...ep, acks: true, stream: BENCH_STREAM, inFlight } : ep;
}

/**
 * Subjects the bench's stream captures: the `jetstream` system's measured runs and warm-ups
 * (runner topics are `bench.<scenario>.<system>.…`, warm-ups `bench.warmup.<scenario>.<system>.…`),
 * never the NATS core reference's, whose messages must not be stored. One filter per scenario:
 * a stream's filters may not overlap.
 */
export const BENCH_STREAM_SUBJECTS = SCENARIOS.flatMap((s) => [
  `bench.${s}.jetstream.>`,
  `bench.warmup.${s}.jetstream.>`,
]);

/** Creates BENCH_STREAM: file storage, one replica, limits retention, a 2-minute duplicate window. */
export async function createBenchStream(nats: NatsServer): Promise<void> {
  const config = {
    name: BENCH_STREAM,
    subjects: BENCH_STREAM_SUBJECTS,
    storage: 'file',
    retention: 'limits',
    discard: 'old',
    num_replicas: 1,
    duplicate_window: 120_000_000_000,
  };
  const reply = await natsRequest(natsEndpoint(nats), `$JS.API.STREAM.CREATE.${BENCH_STREAM}`, JSON.stringify(config));
  if (reply.includes('"error"') || !reply.includes('"config"')) {
    throw new Error(`nats-server refused the bench stream: ${reply}`);
  }
}
