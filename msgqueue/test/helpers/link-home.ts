/**
 * For the tests of the link home (core/src/queue/link/) against the real msgqueue: a msgqueue
 * that can be stopped and started again on its port and data dir, link options pointing at
 * it, a record of link states, and a relay.
 *
 * The relay sits between a link client and the real msgqueue and passes every frame through
 * unchanged. It lets a test see the link's frames (how many appends, acks, what consume asked
 * for), hold append frames before they reach the queue, and cut the connections, as a network
 * that drops would. It answers nothing itself: every answer is the msgqueue's.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  decodeLinkReply,
  decodeLinkRequest,
  encodeLink,
  LINK_PROTOCOL,
  receivedFrame,
  type LinkClientOptions,
  type LinkReply,
  type LinkRequest,
  type LinkState,
} from '@wsq/core';
import { logSink, testTls, untilChange, type Teardown } from '@wsq/core/testing';
import { metricValue, startQueue, tempDir, type RunningQueue } from './queue.js';

/** A msgqueue that can stop (as a crash would: links drop) and start again on its port and data dir. */
export interface RestartableQueue {
  readonly current: RunningQueue;
  readonly url: string;
  readonly ca: Buffer;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** A series of its /metrics (0 when absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** The durable cursor of a consumer name (last seq minus its lag). */
  cursor(name: string): Promise<number>;
  /** Open WebSockets on a path. */
  open(path: '/pushmsg' | '/popmsg'): Promise<number>;
}

export async function restartableQueue(t: Teardown, options: Record<string, unknown> = {}): Promise<RestartableQueue> {
  const dataDir = await tempDir(t);
  let current = await startQueue(t, options, dataDir);
  const port = current.port;
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    metricValue(await current.metricsText(), name, labels) ?? 0;
  return {
    get current() {
      return current;
    },
    url: current.wsBase,
    ca: current.ca,
    stop: () => current.queue.close(),
    async restart() {
      current = await startQueue(t, { ...options, port }, dataDir);
    },
    metric,
    async cursor(name) {
      return (
        (await metric('wsq_queue_last_seq')) - (await metric('wsq_queue_consumer_lag_messages', { consumer: name }))
      );
    },
    open: (path) => metric('wsq_connections_open', { endpoint: path }),
  };
}

/** Link options pointing at `url`: the test CA, the demo credentials, fast reconnects, a log sink unless given. */
export function linkOptions(
  target: { url: string; ca: Buffer },
  over: Partial<LinkClientOptions> = {},
): LinkClientOptions {
  return {
    url: target.url,
    user: 'hello',
    password: 'test',
    ca: target.ca,
    insecure: false,
    pingIntervalMs: 25_000,
    reconnectMinMs: 5,
    reconnectMaxMs: 50,
    ...over,
    log: over.log ?? logSink().log,
  };
}

/** Resolves once `check()` holds, re-checking every few ms (for what has no event: a metric). */
export async function eventually(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 5));
}

/**
 * Records onState calls. `next(state)` waits for the next time the link reaches `state`;
 * `when(state)` also resolves at once when that is the latest state. Both yield the detail.
 */
export function recordStates(): {
  onState(state: LinkState, detail?: string): void;
  readonly seen: { state: LinkState; detail: string | undefined }[];
  next(state: LinkState): Promise<string | undefined>;
  when(state: LinkState): Promise<string | undefined>;
} {
  const seen: { state: LinkState; detail: string | undefined }[] = [];
  const waiters: { state: LinkState; resolve(detail: string | undefined): void }[] = [];
  return {
    seen,
    onState(state, detail) {
      seen.push({ state, detail });
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.state !== state) continue;
        waiters[i]!.resolve(detail);
        waiters.splice(i, 1);
      }
    },
    next(state) {
      return new Promise((resolve) => waiters.push({ state, resolve }));
    },
    when(state) {
      const last = seen[seen.length - 1];
      if (last?.state === state) return Promise.resolve(last.detail);
      return this.next(state);
    },
  };
}

export interface Relay {
  readonly url: string;
  readonly ca: Buffer;
  /** Link requests that passed (or wait, see held) from clients to the queue, in order. */
  readonly requests: LinkRequest[];
  /** Link replies that passed from the queue to clients, in order. */
  readonly replies: LinkReply[];
  /** How many requests of one op passed. */
  count(op: LinkRequest['op']): number;
  /** Client connections open now, and accepted in all. */
  readonly connections: number;
  readonly accepted: number;
  /** While true, append frames wait in the relay; release() passes them on. */
  holdAppends: boolean;
  readonly held: number;
  /**
   * Passes the held append frames on, in order; stops holding unless `keepHolding`.
   * `loseAnswers`: their `appended` answers are not passed back, as when the link drops after
   * the queue wrote the messages and before its acks left.
   */
  release(o?: { keepHolding?: boolean; loseAnswers?: boolean }): void;
  /** Cuts every relayed connection abruptly, as a network that drops. */
  cut(): void;
  waitFor(predicate: () => boolean): Promise<void>;
}

export interface RelayOptions {
  /** Serve the links under this path only, as a reverse proxy would (e.g. '/some/path'). */
  pathPrefix?: string;
  /** false: the relay answers no ping from the client, as a path that stopped carrying them. */
  autoPong?: boolean;
}

export async function startRelay(
  t: Teardown,
  upstream: { url: string; ca: Buffer },
  opts: RelayOptions = {},
): Promise<Relay> {
  const tls = await testTls();
  const events = new EventEmitter();
  const requests: LinkRequest[] = [];
  const replies: LinkReply[] = [];
  const pairs = new Set<{ client: WebSocket; queue: WebSocket }>();
  let held: { queue: WebSocket; frame: Buffer | string; ref: number }[] = [];
  const lostRefs = new Set<number>();
  let holdAppends = false;
  let accepted = 0;
  const changed = (): void => void events.emit('change');

  const server = createServer({ cert: tls.cert, key: tls.key });
  server.on('tlsClientError', () => {});
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 << 20,
    autoPong: opts.autoPong ?? true,
    handleProtocols: (offered) => (offered.has(LINK_PROTOCOL) ? LINK_PROTOCOL : false),
  });

  const forward = (to: WebSocket, data: RawData, isBinary: boolean): void => {
    if (to.readyState === WebSocket.OPEN) to.send(data as Buffer, { binary: isBinary });
  };

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const offered = req.headers['sec-websocket-protocol'];
    const prefix = opts.pathPrefix ?? '';
    const path = new URL(req.url ?? '/', 'https://localhost').pathname;
    if (!path.startsWith(prefix + '/')) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const queue = new WebSocket(upstream.url + path.slice(prefix.length), offered ? [LINK_PROTOCOL] : [], {
      ca: upstream.ca,
      headers: req.headers.authorization ? { authorization: req.headers.authorization } : {},
      perMessageDeflate: false,
      maxPayload: 64 << 20,
    });
    queue.once('unexpected-response', (_r, res) => {
      socket.end(`HTTP/1.1 ${res.statusCode} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      queue.terminate();
    });
    queue.once('error', () => socket.destroy());
    queue.once('open', () => {
      wss.handleUpgrade(req, socket, head, (client) => {
        accepted++;
        const pair = { client, queue };
        pairs.add(pair);
        const end = (): void => {
          pairs.delete(pair);
          client.terminate();
          queue.terminate();
          changed();
        };
        client.on('close', end);
        queue.on('close', end);
        client.on('error', end);
        queue.on('error', end);
        client.on('message', (data: Buffer, isBinary: boolean) => {
          const req = client.protocol === LINK_PROTOCOL ? decodeLinkRequest(receivedFrame(data, isBinary)) : undefined;
          if (req) requests.push(req);
          if (req?.op === 'append' && holdAppends)
            held.push({ queue, frame: isBinary ? data : data.toString(), ref: req.ref });
          else forward(queue, data, isBinary);
          changed();
        });
        queue.on('message', (data: Buffer, isBinary: boolean) => {
          if (client.protocol === LINK_PROTOCOL) {
            const reply = decodeLinkReply(receivedFrame(data, isBinary));
            replies.push(reply);
            if (reply.op === 'appended' && lostRefs.has(reply.ref)) {
              changed();
              return;
            }
          }
          forward(client, data, isBinary);
          changed();
        });
        changed();
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const relay: Relay = {
    url: `wss://localhost:${(server.address() as AddressInfo).port}`,
    ca: tls.ca,
    requests,
    replies,
    count: (op) => requests.filter((r) => r.op === op).length,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    get holdAppends() {
      return holdAppends;
    },
    set holdAppends(v: boolean) {
      holdAppends = v;
    },
    get held() {
      return held.length;
    },
    release(o = {}) {
      holdAppends = o.keepHolding ?? false;
      const now = held;
      held = [];
      for (const h of now) {
        if (o.loseAnswers) lostRefs.add(h.ref);
        if (h.queue.readyState === WebSocket.OPEN) h.queue.send(h.frame);
      }
      changed();
    },
    cut() {
      held = [];
      for (const p of [...pairs]) {
        p.client.terminate();
        p.queue.terminate();
      }
    },
    waitFor: (predicate) => untilChange(events, predicate),
  };
  t.teardown(() => {
    relay.cut();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return relay;
}

/**
 * A peer that speaks only what a test makes it say: it takes wsq.link.v3 connections on port 0
 * and hands each request to `answer`. It stands for a msgqueue in a state the real one reaches
 * only by accident (a journal that cannot write for a moment), never for the msgqueue itself.
 */
export async function startScriptedPeer(
  t: Teardown,
  answer: (req: LinkRequest, reply: (frame: LinkReply) => void) => void,
): Promise<{ url: string; ca: Buffer; readonly accepted: number }> {
  const tls = await testTls();
  const server = createServer({ cert: tls.cert, key: tls.key });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, handleProtocols: () => LINK_PROTOCOL });
  let accepted = 0;
  wss.on('connection', (ws) => {
    accepted++;
    ws.on('message', (data: Buffer, isBinary: boolean) =>
      answer(decodeLinkRequest(receivedFrame(data, isBinary)), (frame) => ws.send(encodeLink(frame))),
    );
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  t.teardown(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `wss://localhost:${(server.address() as AddressInfo).port}`,
    ca: tls.ca,
    get accepted() {
      return accepted;
    },
  };
}
