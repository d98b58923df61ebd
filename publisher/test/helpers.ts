/**
 * Shared by the publisher tests: a publisher on port 0 on an in-memory queue (or linked to a
 * msgqueue at a URL, for the tests of the link's options), metric reads, users files.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMetrics,
  hashPassword,
  writeUsersFile,
  type BaseMetrics,
  type LinkState,
  type UserRecord,
} from '@wsq/core';
import {
  FrameReader,
  connectWs,
  logSink,
  testTls,
  until,
  type ConnectOptions,
  type MemoryQueue,
  type Teardown,
} from '@wsq/core/testing';
import { V1_PROTOCOL, linkQueueHome } from '@wsq/core';
import { publisherConfig } from '../src/options.js';
import { createPublisher, type Publisher } from '../src/service.js';

export interface TestPublisher {
  pub: Publisher;
  wsUrl: string;
  base: string;
  ca: Buffer;
  metrics: BaseMetrics;
  logs: ReturnType<typeof logSink>;
  /** Every link state change, with its detail. */
  states: { state: LinkState; detail: string | undefined }[];
  /** Resolves once the link is in `state` (now or after a change). */
  waitState(state: LinkState): Promise<void>;
  /** Resolves after the link reported `state` `n` times in all. */
  waitStateCount(state: LinkState, n: number): Promise<void>;
  /** A connected client as the demo user (v1 unless protocol: ''), its reader, teardown registered. */
  client(t: Teardown, o?: ConnectOptions): Promise<{ ws: import('ws').WebSocket; r: FrameReader }>;
}

export async function startPublisher(
  t: Teardown,
  queue: MemoryQueue | string,
  over: Record<string, unknown> = {},
): Promise<TestPublisher> {
  const tls = await testTls();
  const logs = logSink('publisher');
  const metrics = createMetrics('publisher', { defaultMetrics: false });
  const events = new EventEmitter();
  const states: TestPublisher['states'] = [];
  const config = publisherConfig({
    port: 0,
    cert: tls.certPath,
    key: tls.keyPath,
    ca: tls.caPath,
    demo: true,
    ...(typeof queue === 'string' ? { queue } : {}),
    reconnectMinMs: 10,
    reconnectMaxMs: 50,
    drainTimeoutMs: 100,
    ...over,
  });
  const pub = await createPublisher(config, {
    log: logs.log,
    queue: typeof queue === 'string' ? linkQueueHome(config, logs.log) : queue,
    metrics,
    onLinkState(state, detail) {
      states.push({ state, detail });
      events.emit('state');
    },
  });
  const addr = await pub.listen();
  t.teardown(() => pub.close());
  const recheckOn = (recheck: () => void) => {
    events.on('state', recheck);
    return () => events.off('state', recheck);
  };
  const wsUrl = `wss://localhost:${addr.port}/publish`;
  return {
    pub,
    wsUrl,
    base: `https://localhost:${addr.port}`,
    ca: tls.ca,
    metrics,
    logs,
    states,
    waitState: (state) => until(() => pub.linkState === state, recheckOn),
    waitStateCount: (state, n) => until(() => states.filter((s) => s.state === state).length >= n, recheckOn),
    async client(t, o = {}) {
      const ws = await connectWs(wsUrl, { ca: tls.ca, user: 'hello', password: 'test', protocol: V1_PROTOCOL, ...o });
      t.teardown(() => ws.terminate());
      return { ws, r: new FrameReader(ws) };
    },
  };
}

/** The value of a counter or gauge for the labels (0 when never touched); for a histogram, its count. */
export async function metricValue(metric: unknown, labels: Record<string, string> = {}): Promise<number> {
  type Sample = { value: number; labels: Record<string, unknown>; metricName?: string };
  const { values } = await (metric as { get(): Promise<{ values: Sample[] }> }).get();
  const hit = values.find(
    (v) =>
      (v.metricName === undefined || v.metricName.endsWith('_count')) &&
      Object.entries(labels).every(([k, want]) => v.labels[k] === want),
  );
  return hit?.value ?? 0;
}

/** A registered metric of `registry` by name. */
export function metric(metrics: BaseMetrics, name: string): unknown {
  const m = metrics.registry.getSingleMetric(name);
  if (!m) throw new Error(`no metric ${name}`);
  return m;
}

/** Writes a users file with the given users (plaintext passwords hashed) into a temp dir. */
export async function usersFile(
  t: Teardown,
  users: Record<string, { password: string; publish: string[]; subscribe?: string[] }>,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-pub-users-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'users.json');
  const records: Record<string, UserRecord> = {};
  for (const [name, u] of Object.entries(users)) {
    records[name] = { password: await hashPassword(u.password), publish: u.publish, subscribe: u.subscribe ?? [] };
  }
  writeUsersFile(path, { version: 1, users: records });
  return path;
}
