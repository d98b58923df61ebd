/**
 * Stub neighbours for the client tests: a publisher and a subscriber built on core's
 * createServiceServer (real TLS, real Basic Auth with the demo user) that record every frame
 * and answer v1 requests the way the real services do. The tests are about the client.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  V1_PROTOCOL,
  createAuthenticator,
  createMetrics,
  createServiceServer,
  decodeClientFrame,
  encodeAck,
  encodeError,
  encodeSubscribed,
  encodeUnsubscribed,
  type ServerLimits,
} from '@wsq/core';
import { logSink, testTls, type Teardown } from '@wsq/core/testing';

/** An unbounded-in-tests queue with waiters: next() resolves with the following item. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];
  push(item: T): void {
    const w = this.waiters.shift();
    if (w) w(item);
    else this.items.push(item);
  }
  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  get size(): number {
    return this.items.length;
  }
}

/** Lines written to a stream, one next() at a time. */
export class LineReader extends Inbox<string> {
  constructor(stream: Readable) {
    super();
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.push(line));
  }
}

export interface Received {
  ws: WebSocket;
  text: string;
}

export interface Stub {
  url: string;
  port: number;
  frames: Inbox<Received>;
  connections: Inbox<WebSocket>;
  /** Close codes of client sockets, as the server saw them. */
  closes: Inbox<number>;
}

const LIMITS: ServerLimits = {
  host: '127.0.0.1',
  port: 0,
  maxPayloadBytes: 65536,
  pingIntervalMs: 25000,
  allowedOrigins: [],
  maxConnections: 100,
  maxConnectionsPerUser: 100,
  handshakeTimeoutMs: 10000,
  metricsAuth: false,
};

/** v1 replies: pub → ack (topic "forbidden" → FORBIDDEN error, "silent" → nothing), sub → subscribed. */
function answerV1(ws: WebSocket, text: string, seq: () => number): void {
  const frame = decodeClientFrame(text);
  switch (frame.op) {
    case 'pub':
      if (frame.topic === 'silent' || frame.id === undefined) return;
      if (frame.topic === 'forbidden') ws.send(encodeError('FORBIDDEN', 'may not publish there', frame.id));
      else ws.send(encodeAck(frame.id, seq()));
      return;
    case 'sub':
      ws.send(encodeSubscribed({ id: frame.id, topic: frame.topic, seq: 0, recovered: true }));
      return;
    case 'unsub':
      ws.send(encodeUnsubscribed({ id: frame.id, topic: frame.topic }));
      return;
  }
}

// scrypt is slow by design: one authenticator per process (it has no users file to watch),
// whose cache then makes every later demo login cheap.
let authPromise: ReturnType<typeof createAuthenticator> | undefined;
function sharedAuth(): ReturnType<typeof createAuthenticator> {
  authPromise ??= createAuthenticator({ demo: true });
  return authPromise;
}

async function startStub(t: Teardown, path: string): Promise<Stub> {
  const tls = await testTls();
  const auth = await sharedAuth();
  const frames = new Inbox<Received>();
  const connections = new Inbox<WebSocket>();
  const closes = new Inbox<number>();
  let lastSeq = 0;
  const server = createServiceServer({
    service: 'stub',
    limits: LIMITS,
    tls: { cert: tls.cert, key: tls.key, ca: tls.ca },
    auth,
    log: logSink('stub', 'warn').log,
    metrics: createMetrics('stub', { defaultMetrics: false }),
    isReady: () => true,
    routes: [
      {
        path,
        protocols: [V1_PROTOCOL],
        legacy: true,
        onConnection(ws, ctx) {
          connections.push(ws);
          ws.on('close', (code) => closes.push(code));
          ws.on('message', (data) => {
            const text = String(data);
            frames.push({ ws, text });
            if (ctx.protocol === V1_PROTOCOL) answerV1(ws, text, () => ++lastSeq);
          });
        },
      },
    ],
  });
  const addr = await server.listen();
  t.teardown(() => server.close());
  return { url: `wss://localhost:${addr.port}${path}`, port: addr.port, frames, connections, closes };
}

export async function startStubs(
  t: Teardown,
): Promise<{ publisher: Stub; subscriber: Stub; ca: Buffer; caPath: string }> {
  const tls = await testTls();
  const [publisher, subscriber] = await Promise.all([startStub(t, '/publish'), startStub(t, '/subscribe')]);
  return { publisher, subscriber, ca: tls.ca, caPath: tls.caPath };
}
