/**
 * A small real wsq.v1 server for the SDK's unit tests: TLS on port 0 with the test CA, Basic
 * Auth (user "u", password "p"), and a script the test controls. By default it answers `pub`
 * with an ack (seq counting up, the same seq again for an id it has seen: the dedupe window)
 * and `sub` with `subscribed`; tests override `onFrame`, close sockets with any code, or make
 * upgrades fail.
 */
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { testTls, type Teardown } from '@wsq/core/testing';

export interface Frame {
  ws: WebSocket;
  f: Record<string, unknown>;
}

/** Items with waiters: next() resolves with the following item. */
export class Inbox<T> {
  readonly all: T[] = [];
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];
  push(item: T): void {
    this.all.push(item);
    const w = this.waiters.shift();
    if (w) w(item);
    else this.items.push(item);
  }
  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  async until(match: (item: T) => boolean): Promise<T> {
    for (;;) {
      const item = await this.next();
      if (match(item)) return item;
    }
  }
}

export interface FakeServer {
  url: string;
  port: number;
  ca: Buffer;
  frames: Inbox<Frame>;
  connections: Inbox<WebSocket>;
  upgrades: Inbox<string>;
  /** Close codes as the server saw them. */
  closes: Inbox<number>;
  /** Replaces the default answers; return true when handled. */
  onFrame: (fr: Frame) => boolean;
  /** When set, the next upgrades are refused with this HTTP status. */
  refuseWith: number | undefined;
  /** When true, upgrades are held without an answer (each pushes its answer to `held`). */
  stall: boolean;
  /** Held upgrades: call one to answer it now, as the server stands then. */
  held: Inbox<() => void>;
  seq: number;
  open: Set<WebSocket>;
  send(ws: WebSocket, frame: Record<string, unknown>): void;
}

export async function startFakeServer(t: Teardown, path = '/subscribe'): Promise<FakeServer> {
  const tls = await testTls();
  const https = createServer({ cert: tls.cert, key: tls.key });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('wsq.v1') ? 'wsq.v1' : false) });
  const sockets = new Set<Duplex>();
  https.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const ids = new Map<string, number>();
  const s: FakeServer = {
    url: '',
    port: 0,
    ca: tls.ca,
    frames: new Inbox(),
    connections: new Inbox(),
    upgrades: new Inbox(),
    closes: new Inbox(),
    onFrame: () => false,
    refuseWith: undefined,
    stall: false,
    held: new Inbox(),
    seq: 0,
    open: new Set(),
    send: (ws, frame) => ws.send(JSON.stringify(frame)),
  };
  https.on('upgrade', (req, socket: Duplex, head) => {
    s.upgrades.push(req.url ?? '');
    if (s.stall) {
      s.held.push(() => answer(req, socket, head));
      return;
    }
    answer(req, socket, head);
  });
  function answer(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const auth = req.headers.authorization;
    const ok = auth === 'Basic ' + Buffer.from('u:p').toString('base64') || /[?&]ticket=good/.test(req.url ?? '');
    const status = s.refuseWith ?? (ok ? undefined : 401);
    if (status !== undefined) {
      socket.end(`HTTP/1.1 ${status} No\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      s.open.add(ws);
      ws.on('close', (code) => {
        s.open.delete(ws);
        s.closes.push(code);
      });
      ws.on('message', (data) => {
        const fr = { ws, f: JSON.parse(String(data)) as Record<string, unknown> };
        s.frames.push(fr);
        if (s.onFrame(fr)) return;
        const { f } = fr;
        if (f.op === 'pub' && typeof f.id === 'string') {
          let seq = ids.get(f.id);
          if (seq === undefined) ids.set(f.id, (seq = ++s.seq));
          s.send(ws, { op: 'ack', id: f.id, seq });
        } else if (f.op === 'sub') {
          s.send(ws, { op: 'subscribed', id: f.id, topic: f.topic, seq: s.seq, recovered: true });
        } else if (f.op === 'unsub') {
          s.send(ws, { op: 'unsubscribed', id: f.id, topic: f.topic });
        }
      });
      s.connections.push(ws);
    });
  }
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  s.port = (https.address() as AddressInfo).port;
  s.url = `wss://localhost:${s.port}${path}`;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of s.open) ws.terminate();
        for (const sock of sockets) sock.destroy();
        https.close(() => resolve());
      }),
  );
  return s;
}
