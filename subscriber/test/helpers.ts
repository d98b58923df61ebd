/**
 * Starting a subscriber for tests: on port 0 with the test certificate, on an in-memory queue
 * (or linked to a msgqueue at a URL, for a ws-go msgqueue), with a log sink and its own
 * metrics registry.
 */
import {
  createAuthenticator,
  createMetrics,
  resolveValues,
  type Authenticator,
  type BaseMetrics,
  type ConfigValues,
  type LinkState,
  V1_PROTOCOL,
  linkQueueHome,
} from '@wsq/core';
import { type MemoryQueue, type Teardown, FrameReader, connectWs, logSink, testTls, until } from '@wsq/core/testing';
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
  queue: MemoryQueue | string,
  over: Record<string, unknown> = {},
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
      ...(typeof queue === 'string' ? { queue } : {}),
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
    queue: typeof queue === 'string' ? linkQueueHome(config, logs.log) : queue,
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
