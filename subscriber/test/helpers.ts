/**
 * Starting a subscriber for tests: on port 0 with the test certificate, linked either to the
 * stub msgqueue (a real TLS link) or to a FakeQueue (deterministic replays), with a log sink
 * and its own metrics registry.
 */
import {
  createAuthenticator,
  createMetrics,
  matchesPattern,
  ProtocolError,
  resolveValues,
  type Authenticator,
  type BaseMetrics,
  type ConfigValues,
  type LinkState,
  type QueueConsumer,
  type QueueMessage,
  type ReplayResult,
  V1_PROTOCOL,
  linkQueueHome,
} from '@wsq/core';
import { type Teardown, FrameReader, connectWs, logSink, testTls, until } from '@wsq/core/testing';
import type { WebSocket } from 'ws';
import { OPTIONS, createSubscriber, toSubscriberConfig, type Subscriber } from '../src/index.js';

export interface Started {
  sub: Subscriber;
  wsUrl: string;
  base: string;
  ca: Buffer;
  metrics: BaseMetrics;
  logs: ReturnType<typeof logSink>;
  /** The link states seen so far; waitLink resolves once the link is in `state`. */
  linkStates: LinkState[];
  waitLink(state: LinkState): Promise<void>;
}

let demoAuth: Promise<Authenticator> | undefined;

/**
 * Starts a subscriber on port 0. scrypt is slow by design, so subscribers without a users
 * file share one demo authenticator (and its cache of verified credentials) per process.
 */
export async function startSubscriber(
  t: Teardown,
  queueUrl: string,
  over: Record<string, unknown> = {},
  queue?: QueueConsumer,
): Promise<Started> {
  const tls = await testTls();
  const auth = over.users === undefined ? await (demoAuth ??= createAuthenticator({ demo: true })) : undefined;
  const values: ConfigValues = resolveValues(
    OPTIONS,
    {
      port: 0,
      cert: tls.certPath,
      key: tls.keyPath,
      ca: tls.caPath,
      demo: true,
      queue: queueUrl,
      reconnectMinMs: 10,
      reconnectMaxMs: 50,
      ...over,
    },
    {},
    {},
  ) as ConfigValues;
  const logs = logSink('subscriber');
  const metrics = createMetrics('subscriber', { defaultMetrics: false });
  const linkStates: LinkState[] = [];
  const waiters = new Set<() => void>();
  const config = toSubscriberConfig(values);
  const sub = await createSubscriber(config, {
    log: logs.log,
    metrics,
    queue: queue ? { where: 'in-memory', consumer: () => queue } : linkQueueHome(config, logs.log),
    auth,
    onLinkState(state) {
      linkStates.push(state);
      for (const w of [...waiters]) w();
    },
  });
  const addr = await sub.listen();
  t.teardown(() => sub.close());
  return {
    sub,
    wsUrl: `wss://localhost:${addr.port}/subscribe`,
    base: `https://localhost:${addr.port}`,
    ca: tls.ca,
    metrics,
    logs,
    linkStates,
    waitLink(state) {
      return until(
        () => sub.queue.state === state,
        (recheck) => {
          waiters.add(recheck);
          return () => waiters.delete(recheck);
        },
      );
    },
  };
}

export interface TestClient {
  ws: WebSocket;
  r: FrameReader;
}

export async function connect(
  t: Teardown,
  s: Started,
  v1: boolean,
  user = 'hello',
  password = 'test',
): Promise<TestClient> {
  const ws = await connectWs(s.wsUrl, { ca: s.ca, user, password, protocol: v1 ? V1_PROTOCOL : undefined });
  t.teardown(() => ws.terminate());
  return { ws, r: new FrameReader(ws) };
}

/** Sends a v1 `sub` and returns the answer frame. */
export async function subscribe(
  c: TestClient,
  topic: string,
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  c.ws.send(JSON.stringify({ op: 'sub', topic, ...extra }));
  return c.r.json();
}

/** Resolves once `check()` holds, re-checking whenever the subscriber's subscriptions or connections change. */
export function changed(sub: Subscriber, check: () => boolean): Promise<void> {
  return until(check, (recheck) => {
    sub.events.on('change', recheck);
    return () => sub.events.off('change', recheck);
  });
}

/** Resolves once every connection has left the subscriber. */
export function allGone(sub: Subscriber): Promise<void> {
  return changed(sub, () => sub.stats().connections === 0);
}

/** The value of a metric series (0 when absent). */
export async function metricValue(m: BaseMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  const hit = data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}

interface PendingReplay {
  from: number;
  to: number;
  pattern: string | undefined;
  limit: number;
  resolve(r: ReplayResult): void;
  reject(e: Error): void;
}

/**
 * A QueueConsumer under the test's control: `push` hands a batch to the subscriber at once;
 * replays answer from the retained log, or wait in `pending` while `holdReplays` is set.
 */
export class FakeQueue implements QueueConsumer {
  state: LinkState = 'up';
  lastSeq = 0;
  firstSeq = 1;
  readonly log: QueueMessage[] = [];
  readonly acks: number[] = [];
  readonly pending: PendingReplay[] = [];
  readonly replays: { from: number; to: number; pattern: string | undefined; limit: number }[] = [];
  holdReplays = false;
  private onMessages: ((batch: QueueMessage[]) => void) | undefined;
  private readonly replayWaiters = new Set<() => void>();

  start(cb: (batch: QueueMessage[]) => void): void {
    this.onMessages = cb;
  }
  ack(seq: number): void {
    this.acks.push(seq);
  }
  /** Appends to the log without delivering (as if the subscriber's cursor were behind). */
  append(topic: string, data: string, ts = Date.now()): QueueMessage {
    const m = { seq: this.lastSeq + 1, topic, data, ts };
    this.lastSeq = m.seq;
    this.log.push(m);
    return m;
  }
  /** Delivers messages to the subscriber as one batch. */
  deliver(msgs: QueueMessage[]): void {
    this.onMessages?.(msgs);
  }
  push(topic: string, data: string): QueueMessage {
    const m = this.append(topic, data);
    this.deliver([m]);
    return m;
  }
  replay(from: number, to: number, pattern: string | undefined, limit: number): Promise<ReplayResult> {
    this.replays.push({ from, to, pattern, limit });
    return new Promise((resolve, reject) => {
      const p = { from, to, pattern, limit, resolve, reject };
      if (this.holdReplays) this.pending.push(p);
      else this.answer(p);
      for (const w of [...this.replayWaiters]) w();
    });
  }
  /** The first retained message with ts >= ms, by the log's running maximum of ts (as the journal's time index). */
  seqAtTime(ms: number): Promise<number> {
    if (this.state !== 'up') return Promise.reject(new ProtocolError('UNAVAILABLE', 'the queue is not up'));
    for (const m of this.log) if (m.seq >= this.firstSeq && m.ts >= ms) return Promise.resolve(m.seq);
    return Promise.resolve(this.lastSeq + 1);
  }
  /** Answers one held replay from the log. */
  answer(p: PendingReplay): void {
    const msgs: QueueMessage[] = [];
    let more = false;
    let next = p.to + 1;
    for (const m of this.log) {
      if (m.seq < Math.max(p.from, this.firstSeq) || m.seq > p.to) continue;
      if (p.pattern !== undefined && !matchesPattern(p.pattern, m.topic)) continue;
      if (msgs.length === p.limit) {
        more = true;
        next = m.seq;
        break;
      }
      msgs.push(m);
    }
    p.resolve({ messages: msgs, firstSeq: this.firstSeq, more, next });
  }
  /** Resolves once `n` replays were requested in all. */
  waitReplays(n: number): Promise<void> {
    return until(
      () => this.replays.length >= n,
      (recheck) => {
        this.replayWaiters.add(recheck);
        return () => this.replayWaiters.delete(recheck);
      },
    );
  }
  async close(): Promise<void> {
    this.state = 'closed';
  }
}
