/**
 * Runs one scenario against one system: spreads the connections over worker threads, waits
 * until every subscription is active (acks, or probe messages for legacy), publishes, waits
 * until every expected delivery arrived or nothing moved for the idle timeout, and merges
 * the workers' counts and latency histograms into a RunResult.
 */
import { Worker } from 'node:worker_threads';
import { openPublisher } from './clients.js';
import type { ScenarioPlan } from './options.js';
import { encodeProbe, nowMs } from './payload.js';
import { mergeResults, type RunResult } from './run-result.js';
import type { Endpoint } from './transport.js';
import { expectedOnTopic, type WorkerResult, type WorkerSetup, type WorkerToMain } from './worker-protocol.js';

export type { RunResult } from './run-result.js';

export interface RunOptions {
  plan: ScenarioPlan;
  endpoint: Endpoint;
  workers: number;
  payloadBytes: number;
  publisherBufferBytes: number;
  connectConcurrency: number;
  idleTimeoutMs: number;
  /** Unique per run, so late messages of an earlier run never count in a later one. */
  topicPrefix: string;
  onProgress?: (p: Progress) => void;
  /** Called once every subscriber is ready, right before publishing starts (the measured window opens). */
  onPublishing?: () => void;
  /** How long subscriptions may take to become active. */
  readyTimeoutMs?: number;
  /** How long connecting and subscribing may take. */
  connectTimeoutMs?: number;
}

export type Phase = 'connecting' | 'probing' | 'publishing' | 'draining';

export interface Progress {
  phase: Phase;
  published: number;
  received: number;
  messages: number;
  expectedDeliveries: number;
  elapsedMs: number;
}

const PROGRESS_INTERVAL_MS = 200;
const POLL_MS = 100;
const PROBE_ROUND_MS = 250;
/** Connecting and subscribing every client (1 000 TLS handshakes on a busy host take a while). */
const CONNECT_TIMEOUT_MS = 120_000;

interface Slot {
  worker: Worker;
  setup: WorkerSetup;
  connected: boolean;
  progress: { published: number; received: number; ready: number };
  published: Extract<WorkerToMain, { type: 'published' }> | undefined;
  result: WorkerResult | undefined;
}

/** The parent's node flags minus module hooks (a test runner's loaders would slow every worker down). */
export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^(--import|--require|-r|--loader|--experimental-loader|--enable-source-maps)(=|$)/.exec(argv[i]);
    if (!m) out.push(argv[i]);
    else if (m[2] === '' && m[1] !== '--enable-source-maps') i++; // the flag's value is the next word
  }
  return out;
}

/** Subscribers go round-robin from the first worker, publishers from the last, so a pipe uses two threads. */
export function distribute(plan: ScenarioPlan, workers: number): { subscribers: number[]; publishers: number[] }[] {
  const n = Math.max(1, Math.min(workers, plan.subscribers + plan.publishers));
  const shares = Array.from({ length: n }, () => ({ subscribers: [] as number[], publishers: [] as number[] }));
  for (let s = 0; s < plan.subscribers; s++) shares[s % n].subscribers.push(s);
  for (let p = 0; p < plan.publishers; p++) shares[n - 1 - (p % n)].publishers.push(p);
  return shares.filter((s) => s.subscribers.length + s.publishers.length > 0);
}

export function expectedDeliveries(plan: ScenarioPlan): number {
  let total = 0;
  for (let s = 0; s < plan.subscribers; s++) total += expectedOnTopic(plan.messages, plan.topics, s % plan.topics);
  return total;
}

export async function runScenario(opts: RunOptions): Promise<RunResult> {
  const { plan, endpoint } = opts;
  const topicNames = Array.from({ length: plan.topics }, (_, i) => `${opts.topicPrefix}.t${i}`);
  const expected = expectedDeliveries(plan);
  const began = nowMs();
  let phase: Phase = 'connecting';
  let failure: Error | undefined;
  const wakers = new Set<() => void>();
  const wake = (): void => wakers.forEach((w) => w());

  const slots: Slot[] = distribute(plan, opts.workers).map((share) => {
    const setup: WorkerSetup = {
      endpoint,
      topicNames,
      messages: plan.messages,
      publisherCount: plan.publishers,
      subscribers: share.subscribers,
      publishers: share.publishers,
      publisherRatePerSec: plan.ratePerSec / plan.publishers,
      payloadBytes: opts.payloadBytes,
      publisherBufferBytes: opts.publisherBufferBytes,
      connectConcurrency: opts.connectConcurrency,
      progressIntervalMs: PROGRESS_INTERVAL_MS,
      idleTimeoutMs: opts.idleTimeoutMs,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: setup,
      execArgv: workerExecArgv(),
    });
    const slot: Slot = {
      worker,
      setup,
      connected: false,
      progress: { published: 0, received: 0, ready: 0 },
      published: undefined,
      result: undefined,
    };
    worker.on('message', (msg: WorkerToMain) => {
      switch (msg.type) {
        case 'connected':
          slot.connected = true;
          break;
        case 'progress':
          slot.progress = { published: msg.published, received: msg.received, ready: msg.ready };
          break;
        case 'published':
          slot.published = msg;
          break;
        case 'result':
          slot.result = msg;
          slot.progress = { published: msg.published, received: msg.received, ready: msg.ready };
          break;
        case 'failed':
          failure ??= new Error(`worker failed: ${msg.message}`);
          break;
      }
      wake();
    });
    worker.on('error', (err) => {
      failure ??= err;
      wake();
    });
    worker.on('exit', (code) => {
      if (!slot.result) failure ??= new Error(`worker exited (${code}) before its result`);
      wake();
    });
    return slot;
  });

  const sum = (key: 'published' | 'received' | 'ready'): number => slots.reduce((a, s) => a + s.progress[key], 0);
  const report = (): void =>
    opts.onProgress?.({
      phase,
      published: sum('published'),
      received: sum('received'),
      messages: plan.messages,
      expectedDeliveries: expected,
      elapsedMs: nowMs() - began,
    });
  const ticker = setInterval(report, POLL_MS);

  /** Resolves when `done()` holds (checked on every worker message); false after timeoutMs. */
  const until = (done: () => boolean, timeoutMs = Infinity): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (failure) finish(() => reject(failure));
        else if (done()) finish(() => resolve(true));
      };
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => finish(() => resolve(false)), timeoutMs) : undefined;
      const finish = (then: () => void): void => {
        clearTimeout(timer);
        wakers.delete(check);
        then();
      };
      wakers.add(check);
      check();
    });

  try {
    if (!(await until(() => slots.every((s) => s.connected), opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS))) {
      throw new Error('connecting and subscribing did not finish in time');
    }
    if (sum('ready') < plan.subscribers) {
      phase = 'probing';
      await probeUntilReady(opts, topicNames, () => sum('ready') >= plan.subscribers, until);
    }
    phase = 'publishing';
    opts.onPublishing?.();
    const startAtMs = nowMs();
    for (const s of slots) s.worker.postMessage({ type: 'start' });
    await until(() => slots.every((s) => s.published !== undefined));
    phase = 'draining';
    // Checked on every worker message; workers report progress every PROGRESS_INTERVAL_MS.
    let seen = -1;
    let idleSince = nowMs();
    await until(() => {
      const received = sum('received');
      if (received !== seen) [seen, idleSince] = [received, nowMs()];
      return received >= expected || nowMs() - idleSince > opts.idleTimeoutMs;
    });
    for (const s of slots) s.worker.postMessage({ type: 'finish' });
    await until(() => slots.every((s) => s.result !== undefined));
    const merged = mergeResults(plan, endpoint.system, slots, expected, startAtMs);
    return endpoint.deployment === undefined ? merged : { ...merged, deployment: endpoint.deployment };
  } finally {
    clearInterval(ticker);
    report();
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

/** Legacy subscriptions have no ack: publish a probe on every topic until each subscriber saw one. */
async function probeUntilReady(
  opts: RunOptions,
  topicNames: string[],
  ready: () => boolean,
  until: (done: () => boolean, timeoutMs?: number) => Promise<boolean>,
): Promise<void> {
  const probe = await openPublisher(opts.endpoint, () => undefined);
  try {
    const payload = encodeProbe(opts.payloadBytes);
    const used = topicNames.slice(0, Math.min(topicNames.length, opts.plan.subscribers));
    const deadline = nowMs() + (opts.readyTimeoutMs ?? 30_000);
    while (!ready()) {
      if (nowMs() > deadline) throw new Error('subscriptions did not become active (no probe arrived)');
      for (const topic of used) probe.publish(topic, payload);
      await until(ready, PROBE_ROUND_MS);
    }
  } finally {
    probe.close();
  }
}
