/**
 * A small in-memory msgqueue for publisher and subscriber tests: real HTTPS + WebSocket on
 * port 0 with the test certificate, Basic Auth, /pushmsg and /popmsg speaking wsq.link.v3
 * (append/appended with pid dedupe, consume with window and cumulative acks, replay with a
 * pattern) or, for peers that negotiate nothing (always with `legacy: true`), ws-go's legacy
 * frames. It is a test double: no journal, no retention beyond the `firstSeq` knob.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { ProtocolError, type FrameErrorCode } from '../../src/protocol/errors.js';
import { contentToData, dataToContent, decodeLegacy, encodeLegacy } from '../../src/protocol/legacy.js';
import { generatedPid } from '../../src/protocol/generated-pid.js';
import type { LinkClientOptions } from '../../src/queue/link/link-client.js';
import type { Logger } from '../../src/observe/log.js';
import type { LinkState } from '../../src/queue/queue.js';
import {
  LINK_PROTOCOL,
  decodeLinkRequest,
  receivedFrame,
  encodeLink,
  type LinkAppendItem,
  type LinkMessage,
  type LinkReply,
} from '../../src/protocol/link.js';
import { matchesPattern } from '../../src/protocol/topics.js';
import { type Teardown, logSink, testTls } from './index.js';

export interface StubQueueOptions {
  /** Never select a subprotocol: behave like an original ws-go msgqueue. */
  legacy?: boolean;
  user?: string;
  password?: string;
  /** Start holding append frames unanswered (and unjournaled) until release(). */
  holdAppends?: boolean;
  /** false: never answer pings (to test the client's heartbeat). */
  autoPong?: boolean;
  /** Serve /pushmsg and /popmsg under this path, as behind a reverse proxy (e.g. '/wsq'). */
  pathPrefix?: string;
}

export interface StubConsume {
  name: string;
  window: number;
  next: number;
}

export interface StubQueue {
  /** wss base URL (append /pushmsg or /popmsg). */
  readonly url: string;
  readonly port: number;
  readonly ca: Buffer;
  /** Every journaled message, in seq order (kept across stop/restart). */
  readonly log: LinkMessage[];
  /** Append frames (and legacy push frames) received. */
  readonly appends: number;
  /** Append frames held unanswered now (see holdAppends). */
  readonly held: number;
  /** Ack frames received. */
  readonly acks: number;
  /** WebSockets open now, and accepted in total. */
  readonly connections: number;
  readonly accepted: number;
  readonly lastConsume: StubConsume | undefined;
  /** Oldest retained seq; raise it to simulate retention (replay/consume start there). */
  firstSeq: number;
  /** While true, append frames wait unanswered; release() answers them. */
  holdAppends: boolean;
  /** When set, every append frame is answered with an error of this code. */
  failAppends: FrameErrorCode | undefined;
  /** The durable (acknowledged) cursor of a consumer name; 0 when it never acked. */
  cursor(name: string): number;
  /** Unacknowledged messages sent to the open consumer connections, summed. */
  readonly outstanding: number;
  /** Appends as if a producer did and delivers to consumers; returns the seq. */
  push(topic: string, data: string): number;
  /**
   * Journals and answers every held append frame, and stops holding unless `keepHolding`.
   * `silent`: journal without answering, as a queue that wrote the messages and then lost
   * the link before its ack left.
   */
  release(o?: { keepHolding?: boolean; silent?: boolean }): void;
  /** Cuts every socket abruptly and stops listening (held appends are lost, the log stays). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  /** 'change' is emitted after anything happened; waitFor re-checks on it. */
  readonly events: EventEmitter;
  waitFor(predicate: () => boolean): Promise<void>;
}

interface Consumer {
  ws: WebSocket;
  name: string;
  window: number;
  next: number;
  /** Seqs sent and not yet acknowledged, ascending. */
  unacked: number[];
}

interface Held {
  ws: WebSocket;
  ref: number;
  msgs: LinkAppendItem[];
}

export async function startStubQueue(t: Teardown, opts: StubQueueOptions = {}): Promise<StubQueue> {
  const tls = await testTls();
  const expected = 'Basic ' + Buffer.from(`${opts.user ?? 'hello'}:${opts.password ?? 'test'}`).toString('base64');
  const events = new EventEmitter();
  const log: LinkMessage[] = [];
  const pids = new Map<string, number>();
  const cursors = new Map<string, number>();
  const consumers = new Map<WebSocket, Consumer>();
  const legacyPoppers = new Set<WebSocket>();
  const sockets = new Set<Socket>();
  const open = new Set<WebSocket>();
  let held: Held[] = [];
  let nextSeq = 1;
  let legacyNext = 1;
  let listening = false;
  let port = 0;

  let appends = 0;
  let acks = 0;
  let accepted = 0;
  let lastConsume: StubConsume | undefined;
  let holdAppends = opts.holdAppends ?? false;
  let failAppends: FrameErrorCode | undefined;
  let firstSeq = 1;
  const cursor = (name: string) => cursors.get(name) ?? 0;

  const stub: StubQueue = {
    get url() {
      return `wss://localhost:${port}`;
    },
    get port() {
      return port;
    },
    ca: tls.ca,
    log,
    events,
    get appends() {
      return appends;
    },
    get held() {
      return held.length;
    },
    get acks() {
      return acks;
    },
    get accepted() {
      return accepted;
    },
    get connections() {
      return open.size;
    },
    get lastConsume() {
      return lastConsume;
    },
    get outstanding() {
      let n = 0;
      for (const c of consumers.values()) n += c.unacked.length;
      return n;
    },
    get holdAppends() {
      return holdAppends;
    },
    set holdAppends(v: boolean) {
      holdAppends = v;
    },
    get failAppends() {
      return failAppends;
    },
    set failAppends(v: FrameErrorCode | undefined) {
      failAppends = v;
    },
    get firstSeq() {
      return firstSeq;
    },
    set firstSeq(v: number) {
      firstSeq = v;
      nextSeq = Math.max(nextSeq, v);
      changed();
    },
    cursor,
    push(topic, data) {
      const seq = journal({ topic, data, ts: Date.now() });
      deliver();
      return seq;
    },
    release(o = {}) {
      holdAppends = o.keepHolding ?? false;
      const now = held;
      held = [];
      for (const h of now) {
        if (o.silent) h.msgs.forEach(journal);
        else answerAppend(h.ws, h.ref, h.msgs);
      }
      deliver();
    },
    stop,
    restart: listen,
    waitFor(predicate) {
      return new Promise((resolve) => {
        const check = () => {
          if (!predicate()) return;
          events.off('change', check);
          resolve();
        };
        events.on('change', check);
        check();
      });
    },
  };

  function changed(): void {
    events.emit('change');
  }

  function send(ws: WebSocket, frame: LinkReply): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeLink(frame));
  }

  function journal(item: LinkAppendItem): number {
    if (item.pid !== undefined) {
      const seen = pids.get(item.pid);
      if (seen !== undefined) return seen;
      pids.set(item.pid, nextSeq);
    }
    const seq = nextSeq++;
    log.push({ seq, topic: item.topic, data: item.data, ts: item.ts });
    return seq;
  }

  /** Index of the first logged message with seq >= `seq`. */
  function indexOf(seq: number): number {
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (log[mid]!.seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function pump(c: Consumer): void {
    const batch: LinkMessage[] = [];
    for (
      let i = indexOf(Math.max(c.next, firstSeq));
      i < log.length && c.unacked.length + batch.length < c.window;
      i++
    ) {
      batch.push(log[i]!);
    }
    if (batch.length === 0) return;
    c.next = batch[batch.length - 1]!.seq + 1;
    for (const m of batch) c.unacked.push(m.seq);
    send(c.ws, { op: 'msgs', msgs: batch });
  }

  function deliver(): void {
    for (const c of consumers.values()) pump(c);
    for (let i = indexOf(legacyNext); legacyPoppers.size > 0 && i < log.length; i++) {
      const m = log[i]!;
      for (const ws of legacyPoppers) ws.send(encodeLegacy(m.topic, dataToContent(m.data)));
      legacyNext = m.seq + 1;
    }
    changed();
  }

  function answerAppend(ws: WebSocket, ref: number, msgs: LinkAppendItem[]): void {
    const seqs = msgs.map(journal);
    send(ws, { op: 'appended', ref, seqs });
    deliver();
  }

  function onLinkFrame(ws: WebSocket, frame: string | Buffer): void {
    let req;
    try {
      req = decodeLinkRequest(frame);
    } catch (err) {
      let ref: number | undefined;
      try {
        ref = typeof frame === 'string' ? (JSON.parse(frame) as { ref?: number }).ref : undefined;
      } catch {
        ref = undefined;
      }
      send(ws, { op: 'error', ref, code: err instanceof ProtocolError ? err.code : 'INTERNAL', message: String(err) });
      return;
    }
    switch (req.op) {
      case 'append': {
        appends++;
        // A counter stands for the generated pid it spells out; the stub dedupes on pid strings.
        const { producer } = req;
        const msgs = req.msgs.map((m) =>
          m.counter === undefined || producer === undefined ? m : { ...m, pid: generatedPid(producer, m.counter) },
        );
        if (failAppends) send(ws, { op: 'error', ref: req.ref, code: failAppends, message: 'stub refuses appends' });
        else if (holdAppends) held.push({ ws, ref: req.ref, msgs });
        else answerAppend(ws, req.ref, msgs);
        break;
      }
      case 'consume': {
        const next = Math.max(cursor(req.name) + 1, firstSeq);
        const c: Consumer = { ws, name: req.name, window: req.window, next, unacked: [] };
        consumers.set(ws, c);
        lastConsume = { name: req.name, window: req.window, next };
        send(ws, { op: 'consuming', name: req.name, next, first: firstSeq, last: nextSeq - 1 });
        pump(c);
        break;
      }
      case 'ack': {
        acks++;
        const c = consumers.get(ws);
        if (!c) return send(ws, { op: 'error', code: 'BAD_FRAME', message: 'ack before consume' });
        cursors.set(c.name, Math.max(cursor(c.name), req.seq));
        while (c.unacked.length > 0 && c.unacked[0]! <= req.seq) c.unacked.shift();
        pump(c);
        break;
      }
      case 'replay': {
        const from = Math.max(req.from, firstSeq);
        const msgs: LinkMessage[] = [];
        let more = false;
        let next = req.to + 1;
        for (let i = indexOf(from); i < log.length && log[i]!.seq <= req.to; i++) {
          const m = log[i]!;
          if (req.pattern !== undefined && !matchesPattern(req.pattern, m.topic)) continue;
          if (msgs.length === req.limit) {
            more = true;
            next = m.seq;
            break;
          }
          msgs.push(m);
        }
        send(ws, { op: 'replayed', ref: req.ref, msgs, first: firstSeq, more, next });
        break;
      }
    }
    changed();
  }

  function onLegacyConnection(ws: WebSocket, path: string): void {
    if (path === '/popmsg') {
      legacyPoppers.add(ws);
      ws.on('close', () => legacyPoppers.delete(ws));
      deliver();
      return;
    }
    ws.on('message', (data: Buffer) => {
      appends++;
      try {
        const m = decodeLegacy(data.toString());
        journal({ topic: m.topic, data: contentToData(m.content), ts: Date.now() });
      } catch {
        return; // ws-go ignores what it cannot decode
      }
      deliver();
    });
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024 * 1024,
    perMessageDeflate: false,
    autoPong: opts.autoPong ?? true,
    handleProtocols: (offered) => (!opts.legacy && offered.has(LINK_PROTOCOL) ? LINK_PROTOCOL : false),
  });
  let server: Server | undefined;

  function refuse(socket: Socket, status: string, extra = ''): void {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
    socket.destroy();
  }

  function onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const prefix = opts.pathPrefix ?? '';
    const full = new URL(req.url ?? '/', 'https://localhost').pathname;
    const path = full.startsWith(prefix) ? full.slice(prefix.length) : full;
    if (!full.startsWith(prefix) || (path !== '/pushmsg' && path !== '/popmsg')) return refuse(socket, '404 Not Found');
    if (req.headers.authorization !== expected) {
      return refuse(socket, '401 Unauthorized', 'WWW-Authenticate: Basic realm="wsq"\r\n');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      open.add(ws);
      accepted++;
      ws.on('error', () => ws.terminate());
      ws.on('close', () => {
        open.delete(ws);
        consumers.delete(ws);
        changed();
      });
      if (ws.protocol === LINK_PROTOCOL)
        ws.on('message', (data: Buffer, isBinary: boolean) => onLinkFrame(ws, receivedFrame(data, isBinary)));
      else onLegacyConnection(ws, path);
      changed();
    });
  }

  function listen(): Promise<void> {
    if (listening) return Promise.resolve();
    const srv = createServer({ cert: tls.cert, key: tls.key });
    server = srv;
    srv.on('upgrade', onUpgrade);
    srv.on('secureConnection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    srv.on('tlsClientError', () => {});
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        srv.off('error', reject);
        listening = true;
        port = (srv.address() as { port: number }).port;
        changed();
        resolve();
      });
    });
  }

  async function stop(): Promise<void> {
    held = [];
    if (!listening || !server) return;
    listening = false;
    const srv = server;
    const stopped = new Promise<void>((resolve) => srv.close(() => resolve()));
    for (const ws of open) ws.terminate();
    for (const s of sockets) s.destroy();
    srv.closeAllConnections();
    await stopped;
    changed();
  }

  await listen();
  t.teardown(stop);
  return stub;
}

/** Link options pointing at a stub: its CA and credentials, fast reconnects, a log sink unless given. */
export function stubLinkOptions(stub: StubQueue, over: Partial<LinkClientOptions> = {}): LinkClientOptions {
  const log: Logger = over.log ?? logSink().log;
  return {
    url: stub.url,
    user: 'hello',
    password: 'test',
    ca: stub.ca,
    insecure: false,
    pingIntervalMs: 25_000,
    reconnectMinMs: 5,
    reconnectMaxMs: 50,
    ...over,
    log,
  };
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
