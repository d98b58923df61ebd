/**
 * `--scenario connections`: how many idle subscriptions one subscriber holds, and what they
 * cost. Starts wsq (and with `--reference nats` a nats-server too), spreads N idle v1
 * subscriptions on one topic over client processes and loopback source addresses, then
 * reports the subscriber's memory per connection (RSS growth ÷ N), the accept rate (TLS
 * handshake, upgrade and subscription, end to end), its CPU while idle (heartbeats every
 * --ping-interval-ms) and how long one message takes to reach all N (three broadcasts, the
 * median). Bounded: every phase has a deadline; the client processes and the services are
 * stopped whatever happens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startWsq, type BenchIo } from './start-wsq.js';
import { needsNats } from './deployments.js';
import { openPublisher } from './clients.js';
import { sourceAddress, type ConnWorkerSetup, type ConnWorkerToMain } from './conn-worker-protocol.js';
import { processCpuSeconds } from './cpu.js';
import { findNatsServer, natsEndpoint, startNatsServer, type NatsServer } from './nats.js';
import type { BenchConfig, ConnectionsPlan } from './options.js';
import { encodePayload, nowMs } from './payload.js';
import { SYSTEM_LABELS, median } from './report.js';
import type { Endpoint, SystemKind } from './transport.js';
import { ROOT, SERVICE_FD_LIMIT, SetupError, fdLimitOf, withFdLimit, type Trio } from './trio.js';

/** Descriptors a server needs beyond one per connection (listeners, journal, link, std streams). */
const FD_HEADROOM = 200;
const BROADCASTS = 3;
const BROADCAST_TIMEOUT_MS = 30_000;
const PROGRESS_INTERVAL_MS = 500;
/** Handshakes in flight per client process. */
const CONNECT_CONCURRENCY = 64;
const CLOSE_TIMEOUT_MS = 10_000;

export interface ConnectionsResult {
  system: SystemKind;
  connections: number;
  processes: number;
  sourceAddresses: number;
  /** The server process's descriptor limit. */
  fdLimit: number | undefined;
  /** Connections per second from the first connect to the last subscription confirmed. */
  acceptPerSec: number;
  connectMs: number;
  /** Server RSS before the connections and after the idle window (bytes). */
  rssBefore: number;
  rssAfter: number;
  bytesPerConnection: number;
  pingIntervalMs: number;
  idleMs: number;
  /** Server CPU seconds over the idle window, and as a share of one core. */
  idleCpuSeconds: number;
  idleCpuShare: number;
  /** Milliseconds from publishing one message to the last of the N getting it, per broadcast. */
  broadcastMs: number[];
  broadcastMedianMs: number;
  /**
   * Server CPU seconds per broadcast, from the publish to the last client getting it: what
   * the server itself spends on one message to all N, apart from the clients on this host.
   */
  broadcastCpuSeconds: number[];
  broadcastCpuMedianSeconds: number;
  closedByServer: number;
}

/** Resident set size of `pid` in bytes, from /proc (undefined elsewhere). */
export function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Child {
  proc: ChildProcess;
  setup: ConnWorkerSetup;
  connected: number;
  ready: Extract<ConnWorkerToMain, { type: 'ready' }> | undefined;
  delivered: Map<number, number>;
  closedByServer: number;
  /** The close code of the last connection the server closed. */
  closeCode: number | undefined;
  exited: Promise<void>;
}

/** Splits n into k near-equal parts. */
export function shares(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

function startClients(plan: ConnectionsPlan, endpoint: Endpoint, topic: string, onEvent: () => void): Child[] {
  const addresses = Array.from({ length: plan.sourceAddresses }, (_, i) => sourceAddress(i));
  const script = new URL('./conn-worker.js', import.meta.url).pathname;
  let failure: string | undefined;
  const children = shares(plan.connections, plan.processes).map((count, p) => {
    // Each process gets every address, starting at its own, so a process's connections spread too.
    const setup: ConnWorkerSetup = {
      endpoint,
      topic,
      connections: count,
      sourceAddresses: addresses.map((_, i) => addresses[(i + p) % addresses.length]),
      concurrency: CONNECT_CONCURRENCY,
      progressIntervalMs: PROGRESS_INTERVAL_MS,
    };
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const proc = spawn('sh', withFdLimit(SERVICE_FD_LIMIT, [process.execPath, script]), {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const child: Child = {
      proc,
      setup,
      connected: 0,
      ready: undefined,
      delivered: new Map(),
      closedByServer: 0,
      closeCode: undefined,
      exited: new Promise((res) => proc.once('exit', () => res())),
    };
    proc.on('message', (msg: ConnWorkerToMain) => {
      switch (msg.type) {
        case 'progress':
          child.connected = msg.connected;
          break;
        case 'ready':
          child.connected = msg.connected;
          child.ready = msg;
          break;
        case 'delivered':
          child.delivered.set(msg.index, msg.lastAtMs);
          break;
        case 'closed':
          child.closedByServer = msg.total;
          child.closeCode = msg.code;
          break;
        case 'failed':
          failure ??= msg.message;
          break;
      }
      onEvent();
    });
    proc.on('exit', onEvent);
    proc.send({ type: 'setup', setup });
    return child;
  });
  Object.defineProperty(children, 'failure', { get: () => failure });
  return children;
}

function failureOf(children: Child[]): string | undefined {
  return (children as unknown as { failure: string | undefined }).failure;
}

async function stopClients(children: readonly Child[]): Promise<void> {
  for (const c of children) if (c.proc.connected) c.proc.send({ type: 'close' });
  await Promise.all(
    children.map(async (c) => {
      const timer = setTimeout(() => c.proc.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
      await c.exited;
      clearTimeout(timer);
    }),
  );
}

/** One system's run of the scenario against an already started server process `pid`. */
async function measure(
  plan: ConnectionsPlan,
  endpoint: Endpoint,
  pid: number | undefined,
  say: (s: string) => void,
): Promise<ConnectionsResult> {
  const label = SYSTEM_LABELS[endpoint.system];
  const fdLimit = fdLimitOf(pid);
  if (fdLimit !== undefined && fdLimit < plan.connections + FD_HEADROOM) {
    throw new SetupError(
      `${label}: the server's descriptor limit is ${fdLimit} (the host's hard limit: raising it needs ` +
        `CAP_SYS_RESOURCE), too few for ${plan.connections} connections; at most ${fdLimit - FD_HEADROOM} here`,
    );
  }
  const topic = `bench.connections.${endpoint.system}.${randomBytes(3).toString('hex')}`;
  await sleep(500); // the freshly started server settles before its baseline RSS is read
  const rssBefore = rssBytes(pid) ?? 0;
  let wake: () => void = () => undefined;
  const children = startClients(plan, endpoint, topic, () => wake());
  const until = async (done: () => boolean, timeoutMs: number, what: string): Promise<void> => {
    const deadline = nowMs() + timeoutMs;
    while (!done()) {
      const failure = failureOf(children);
      if (failure) throw new Error(`${label}: a client process failed: ${failure}`);
      if (children.some((c) => c.proc.exitCode !== null && !c.ready))
        throw new Error(`${label}: a client process died`);
      const closed = children.reduce((a, c) => a + c.closedByServer, 0);
      if (closed > 0) {
        const code = children.find((c) => c.closeCode !== undefined)?.closeCode;
        throw new Error(`${label}: the server closed ${closed} of the connections (code ${code}) during ${what}`);
      }
      if (nowMs() > deadline) throw new Error(`${label}: ${what} did not finish in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, PROGRESS_INTERVAL_MS).unref();
      });
    }
  };
  try {
    let lastSaid = 0;
    await until(
      () => {
        const n = children.reduce((a, c) => a + c.connected, 0);
        if (nowMs() - lastSaid > 5000) {
          say(`${label}: ${n} of ${plan.connections} connected`);
          lastSaid = nowMs();
        }
        return children.every((c) => c.ready);
      },
      plan.connectTimeoutMs,
      `opening ${plan.connections} connections`,
    );
    const first = Math.min(...children.map((c) => c.ready!.firstAtMs));
    const last = Math.max(...children.map((c) => c.ready!.lastAtMs));
    const connectMs = last - first;
    say(`${label}: ${plan.connections} subscribed in ${(connectMs / 1000).toFixed(1)} s; idle for ${plan.idleMs} ms`);
    const cpu0 = processCpuSeconds(pid) ?? 0;
    await sleep(plan.idleMs);
    const idleCpuSeconds = Math.max(0, (processCpuSeconds(pid) ?? 0) - cpu0);
    const rssAfter = rssBytes(pid) ?? 0;
    const publisher = await openPublisher(endpoint, () => undefined);
    const broadcastMs: number[] = [];
    const broadcastCpuSeconds: number[] = [];
    try {
      for (let b = 0; b < BROADCASTS; b++) {
        const sentAt = nowMs();
        const cpuAtSend = processCpuSeconds(pid) ?? 0;
        publisher.publish(topic, encodePayload(b, sentAt, 64));
        await until(() => children.every((c) => c.delivered.has(b)), BROADCAST_TIMEOUT_MS, `broadcast ${b + 1}`);
        broadcastCpuSeconds.push(Math.max(0, (processCpuSeconds(pid) ?? 0) - cpuAtSend));
        broadcastMs.push(Math.max(...children.map((c) => c.delivered.get(b)!)) - sentAt);
      }
    } finally {
      publisher.close();
    }
    const result: ConnectionsResult = {
      system: endpoint.system,
      connections: plan.connections,
      processes: plan.processes,
      sourceAddresses: plan.sourceAddresses,
      fdLimit,
      acceptPerSec: connectMs > 0 ? (plan.connections * 1000) / connectMs : 0,
      connectMs,
      rssBefore,
      rssAfter,
      bytesPerConnection: (rssAfter - rssBefore) / plan.connections,
      pingIntervalMs: plan.pingIntervalMs,
      idleMs: plan.idleMs,
      idleCpuSeconds,
      idleCpuShare: idleCpuSeconds / (plan.idleMs / 1000),
      broadcastMs,
      broadcastMedianMs: median(broadcastMs),
      broadcastCpuSeconds,
      broadcastCpuMedianSeconds: median(broadcastCpuSeconds),
      closedByServer: children.reduce((a, c) => a + c.closedByServer, 0),
    };
    say(`${label}: ${formatConnectionsLine(result)}`);
    return result;
  } finally {
    await stopClients(children);
  }
}

export function formatConnectionsLine(r: ConnectionsResult): string {
  const kb = (r.bytesPerConnection / 1024).toFixed(1);
  const bc = r.broadcastMs.map((ms) => ms.toFixed(0)).join(', ');
  return (
    `${r.connections} connections: ${kb} KB each (RSS ${(r.rssBefore / 2 ** 20).toFixed(0)} → ${(r.rssAfter / 2 ** 20).toFixed(0)} MiB), ` +
    `${Math.round(r.acceptPerSec)} accepted/s, idle CPU ${(r.idleCpuShare * 100).toFixed(1)} % of a core ` +
    `(ping every ${r.pingIntervalMs} ms), one message to all in ${r.broadcastMedianMs.toFixed(0)} ms (median of ${bc}), ` +
    `of which the server's CPU ${(r.broadcastCpuMedianSeconds * 1000).toFixed(0)} ms ` +
    `(${((r.broadcastCpuMedianSeconds * 1e6) / r.connections).toFixed(1)} µs per connection)`
  );
}

export function formatConnectionsTable(results: readonly ConnectionsResult[]): string {
  const head = [
    'system',
    'connections',
    'KB/conn',
    'accepted/s',
    'idle CPU %',
    'ping ms',
    'to all ms',
    'server CPU ms',
    'closed',
  ];
  const rows = results.map((r) => [
    SYSTEM_LABELS[r.system],
    String(r.connections),
    (r.bytesPerConnection / 1024).toFixed(1),
    String(Math.round(r.acceptPerSec)),
    (r.idleCpuShare * 100).toFixed(1),
    String(r.pingIntervalMs),
    r.broadcastMedianMs.toFixed(0),
    (r.broadcastCpuMedianSeconds * 1000).toFixed(0),
    String(r.closedByServer),
  ]);
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/** The whole scenario: wsq (as --topology/--queue say), then NATS with --reference nats. */
/** What a connections run gives: its exit code and one result per system measured. */
export interface ConnectionsOutcome {
  exitCode: number;
  results: [];
  warmups: [];
  connections: ConnectionsResult[];
}

export async function runConnections(
  config: BenchConfig,
  plan: ConnectionsPlan,
  io: BenchIo,
): Promise<ConnectionsOutcome> {
  const say = (s: string): void => void io.stderr.write(s + '\n');
  say(
    `connections: ${plan.connections} idle v1 subscriptions from ${plan.processes} client processes ` +
      `over ${plan.sourceAddresses} source address(es), ping every ${plan.pingIntervalMs} ms`,
  );
  const results: ConnectionsResult[] = [];
  let trio: Trio | undefined;
  let nats: NatsServer | undefined;
  try {
    // One deployment: options.ts refuses several with the connections scenario.
    const deployment = config.deployments[0]!;
    const natsBinary = needsNats(deployment) ? findNatsServer(config.natsServer) : undefined;
    if (deployment.topology === 'trio' && deployment.queue === 'jetstream') {
      nats = await startNatsServer(natsBinary!, { jetstream: true });
    }
    const subscriberArgs = [...config.serviceArgs.subscriber, '--ping-interval-ms', String(plan.pingIntervalMs)];
    trio = await startWsq(
      config,
      deployment,
      { nats, natsBinary },
      { extraArgs: { ...config.serviceArgs, subscriber: subscriberArgs } },
    );
    const wsq: Endpoint = {
      system: 'wsq-v1',
      publishUrl: trio.publishUrl,
      subscribeUrl: trio.subscribeUrl,
      user: trio.user,
      password: trio.password,
      ca: trio.ca,
    };
    results.push(await measure(plan, wsq, trio.subscriberPid(), say));
    await trio.stop();
    trio = undefined;
    await nats?.stop();
    nats = undefined;
    if (config.references.includes('nats')) {
      nats = await startNatsServer(findNatsServer(config.natsServer)!, { pingIntervalMs: plan.pingIntervalMs });
      results.push(await measure(plan, natsEndpoint(nats), nats.pid, say));
    }
  } catch (err) {
    if (!(err instanceof SetupError)) throw err;
    say(`wsq-bench: ${err.message}`);
    return { exitCode: 2, results: [], warmups: [], connections: results };
  } finally {
    await trio?.stop();
    await nats?.stop();
  }
  const table = formatConnectionsTable(results);
  if (config.json) {
    io.stderr.write(table);
    io.stdout.write(JSON.stringify({ connections: results }, null, 2) + '\n');
  } else io.stdout.write(table);
  const bad = results.some((r) => r.closedByServer > 0);
  return { exitCode: bad ? 3 : 0, results: [], warmups: [], connections: results };
}
