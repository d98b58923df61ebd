/**
 * Test helpers for the msgqueue's own tests: a real msgqueue on port 0 with real TLS and a
 * temp data dir, and raw `ws` clients speaking wsq.link.v3 or the legacy link.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMetrics,
  type ConfigValues,
  decodeLinkReply,
  encodeLink,
  generatedPid,
  LINK_PROTOCOL,
  resolveValues,
  type LinkMessage,
  type LinkReply,
  type LinkRequest,
} from '@wsq/core';
import { connectWs, FrameReader, httpsRequest, logSink, testTls, type Teardown } from '@wsq/core/testing';
import type { WebSocket } from 'ws';
import { createMsgqueue, type Msgqueue } from '../../src/service.js';
import { OPTIONS, toConfig } from '../../src/options.js';

export const USER = { user: 'hello', password: 'test' };

export async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsq-msgqueue-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface RunningQueue {
  queue: Msgqueue;
  port: number;
  base: string;
  wsBase: string;
  ca: Buffer;
  dataDir: string;
  logs: ReturnType<typeof logSink>;
  metricsText(): Promise<string>;
}

/** Starts a msgqueue (demo user) on port 0; `options` are flag values by camelCase key. */
export async function startQueue(
  t: Teardown,
  options: Record<string, unknown> = {},
  dataDir?: string,
  deps: { now?: () => number } = {},
): Promise<RunningQueue> {
  const tls = await testTls();
  const dir = dataDir ?? (await tempDir(t));
  const values = resolveValues(
    OPTIONS,
    {
      port: 0,
      cert: tls.certPath,
      key: tls.keyPath,
      ca: tls.caPath,
      demo: true,
      dataDir: dir,
      fsync: 'never',
      ...options,
    },
    {},
    {},
  );
  const logs = logSink('msgqueue');
  const queue = await createMsgqueue(toConfig(values as ConfigValues), {
    log: logs.log,
    metrics: createMetrics('msgqueue', { defaultMetrics: false }),
    ...deps,
  });
  t.teardown(() => queue.close());
  const { port } = await queue.listen();
  const base = `https://localhost:${port}`;
  return {
    queue,
    port,
    base,
    wsBase: `wss://localhost:${port}`,
    ca: tls.ca,
    dataDir: dir,
    logs,
    metricsText: async () => (await httpsRequest(`${base}/metrics`, { ca: tls.ca })).body,
  };
}

/** A raw wsq.link.v3 client. */
export class LinkClient {
  readonly reader: FrameReader;
  constructor(readonly ws: WebSocket) {
    this.reader = new FrameReader(ws);
  }
  send(frame: LinkRequest): void {
    this.ws.send(encodeLink(frame));
  }
  async next(): Promise<LinkReply> {
    return decodeLinkReply(await this.reader.nextFrame());
  }
  /** The next frame, which must have op `op`. */
  async expect<K extends LinkReply['op']>(op: K): Promise<Extract<LinkReply, { op: K }>> {
    const frame = await this.next();
    if (frame.op !== op) throw new Error(`expected ${op}, got ${JSON.stringify(frame)}`);
    return frame as Extract<LinkReply, { op: K }>;
  }
  /** Appends and returns the seqs (the next frame must be the answer); `producer` for items with a counter. */
  async append(
    ref: number,
    msgs: { topic: string; data: string; pid?: string; counter?: number }[],
    producer?: string,
  ): Promise<number[]> {
    this.send({ op: 'append', ref, producer, msgs: msgs.map((m) => ({ ts: Date.now(), ...m })) });
    const reply = await this.expect('appended');
    if (reply.ref !== ref) throw new Error(`answer for ref ${reply.ref}, expected ${ref}`);
    return reply.seqs;
  }
  /** Reads msgs frames until `count` messages arrived (fails if a batch overshoots). */
  async receive(count: number): Promise<LinkMessage[]> {
    const out: LinkMessage[] = [];
    while (out.length < count) out.push(...(await this.expect('msgs')).msgs);
    if (out.length !== count) throw new Error(`expected ${count} messages, got ${out.length}`);
    return out;
  }
}

export async function linkClient(
  t: Teardown,
  q: RunningQueue,
  path: '/pushmsg' | '/popmsg',
  creds = USER,
): Promise<LinkClient> {
  const ws = await connectWs(`${q.wsBase}${path}`, { ca: q.ca, ...creds, protocol: LINK_PROTOCOL });
  t.teardown(() => ws.terminate());
  return new LinkClient(ws);
}

/** A consumer that has sent consume and read the consuming answer. */
export async function consumer(t: Teardown, q: RunningQueue, name: string, window = 1000) {
  const c = await linkClient(t, q, '/popmsg');
  c.send({ op: 'consume', name, window });
  const consuming = await c.expect('consuming');
  return { c, consuming };
}

/** A legacy (no subprotocol) client. */
export async function legacyClient(
  t: Teardown,
  q: RunningQueue,
  pathAndQuery: string,
): Promise<{ ws: WebSocket; reader: FrameReader }> {
  const ws = await connectWs(`${q.wsBase}${pathAndQuery}`, { ca: q.ca, ...USER });
  t.teardown(() => ws.terminate());
  return { ws, reader: new FrameReader(ws) };
}

/** The value of one sample line of the Prometheus text, or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (!Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** A pid as the publisher generates it, for a producer id padded from a short name ('a' → 'axxxxxxxxxxx'). */
export function gen(producer: string, counter: number): string {
  return generatedPid(producer.padEnd(12, 'x'), counter);
}
