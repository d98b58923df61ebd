/**
 * What a worker needs of a system under test: subscriber connections that subscribe (and say
 * when the server has taken the subscription) and hand each delivered frame over, and
 * publisher connections with the socket's unsent byte count for flow control. wsq-client.ts
 * and nats-client.ts implement it; the worker knows neither protocol.
 */
import type { Duplex } from 'node:stream';
import { createSecureContext, type SecureContext } from 'node:tls';
import { WebSocket, type ClientOptions } from 'ws';
import type { DeploymentId } from './deployments.js';
import { fillFrame, publishTemplate, type FrameKind } from './frames.js';

export const SYSTEMS = ['wsq-legacy', 'wsq-v1', 'nats', 'jetstream'] as const;
export type SystemKind = (typeof SYSTEMS)[number];

/** Where and how to connect; plain data so it crosses into worker threads. */
export interface Endpoint {
  system: SystemKind;
  /** A wsq system the bench started: which of its deployments. */
  deployment?: DeploymentId;
  publishUrl: string;
  subscribeUrl: string;
  user: string | undefined;
  password: string | undefined;
  /** CA certificate PEM text, or undefined for the system's trust store. */
  ca: string | undefined;
  /**
   * wsq.v1 (`--acks`) and JetStream (always): every published message carries an id, and the
   * acks (JetStream: PubAcks) are counted.
   */
  acks?: boolean;
  /** JetStream: the stream the bench created, which captures this system's topics. */
  stream?: string;
  /** Unacknowledged messages a publisher allows before it waits (with `acks`; 0: no bound). */
  inFlight?: number;
  /** The local (source) address to connect from, e.g. 127.0.0.2 (past one address's ephemeral ports). */
  localAddress?: string;
}

/** What a lean publisher builds its frame templates from. */
export interface PublishSetup {
  /** Message i goes to topicNames[i % topicNames.length]. */
  topicNames: readonly string[];
  payloadBytes: number;
  /**
   * Called for every ack or refusal, with how long the oldest unanswered message waited for it
   * (ms; a connection's publishes are answered in order by wsq and by JetStream alike).
   */
  onAnswer?: (waitedMs: number) => void;
}

/**
 * When each unanswered message was sent, oldest first, kept per burst (a count and a time),
 * not per message: `answered` pops the oldest and says how long it waited.
 */
export class AnswerClock {
  private counts: number[] = [];
  private times: number[] = [];
  private head = 0;

  sent(count: number, atMs: number): void {
    if (count <= 0) return;
    this.counts.push(count);
    this.times.push(atMs);
  }

  /** The oldest unanswered message's wait until `nowMs`; 0 if none is known (a probe's answer). */
  answered(nowMs: number): number {
    if (this.head >= this.counts.length) return 0;
    const waited = nowMs - this.times[this.head];
    if (--this.counts[this.head] === 0 && ++this.head > 1024) {
      this.counts = this.counts.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return waited;
  }
}

export interface SubscriberConn {
  /**
   * Subscribes. Resolves once the server has the subscription (wsq.v1: `subscribed`; NATS:
   * the PONG after SUB), or — legacy, which has no ack — once the frame is written
   * (`confirmed` false: readiness needs a probe message).
   */
  subscribe(topic: string): Promise<{ confirmed: boolean }>;
  close(): void;
}

export interface PublisherConn {
  /** Sends one message through the ws library (probes; not the measured path). */
  publish(topic: string, payload: string, cb?: (err?: Error) => void): void;
  /**
   * Sends messages first, first + step, … (`count` of them), stamped now, as one socket write
   * of pre-built frames (needs a PublishSetup); `cb` runs once written. Returns the send time.
   */
  sendBatch(first: number, step: number, count: number, cb?: (err?: Error) => void): number;
  /** Bytes accepted by send but not yet written to the kernel. */
  readonly bufferedAmount: number;
  /** Messages the server refused out loud (wsq.v1 error frames, NATS -ERR). */
  readonly refused: number;
  /** Messages the server acknowledged (wsq.v1 with `acks`; 0 otherwise). */
  readonly acked: number;
  close(): void;
}

/**
 * Frames the server sends are handed over as bytes — the delivery is `frame[start, end)`, so a
 * NATS receiver passes a MSG's payload without a view per message — and the receiver finds the
 * payload itself. The bytes are valid only during the call.
 */
export type DeliveryHandler = (frame: Buffer, start: number, end: number) => void;
/** The server closed the connection (a wsq slow consumer gets 1013); `code` 1006 when the socket died. */
export type CloseHandler = (code: number) => void;

/** The TLS socket under a ws WebSocket (ws keeps it as `_socket`; frames are written to it directly). */
export function socketOf(ws: WebSocket): Duplex {
  return (ws as unknown as { _socket: Duplex })._socket;
}

/**
 * sendBatch over `ws`'s socket with one pre-built frame of `kind` per topic of `setup`: one
 * buffer and one write per batch. ws writes its own frames (pongs, close) whole to the same
 * socket, so frames never interleave. Without a setup (a connection that only subscribes),
 * sendBatch throws.
 */
export function batchSender(
  ws: WebSocket,
  kind: FrameKind,
  setup: PublishSetup | undefined,
  now: () => number,
  clock?: AnswerClock,
): (first: number, step: number, count: number, cb?: (err?: Error) => void) => number {
  if (!setup) {
    return () => {
      throw new Error('sendBatch needs a PublishSetup');
    };
  }
  const templates = setup.topicNames.map((t) => publishTemplate(kind, t, setup.payloadBytes));
  const topics = templates.length;
  return (first, step, count, cb) => {
    let bytes = 0;
    for (let n = 0, i = first; n < count; n++, i += step) bytes += templates[i % topics].bytes.length;
    const buf = Buffer.allocUnsafe(bytes);
    const at = now();
    let off = 0;
    for (let n = 0, i = first; n < count; n++, i += step) off = fillFrame(buf, off, templates[i % topics], i, at);
    clock?.sent(count, at);
    const socket = socketOf(ws);
    if (ws.readyState !== ws.OPEN || !socket) cb?.(new Error('socket not open'));
    else socket.write(buf, cb === undefined ? undefined : (err) => cb(err ?? undefined));
    return at;
  };
}

const contexts = new Map<string, SecureContext>();

/**
 * One TLS context per CA in each thread: building one per connection (what passing `ca`
 * does) parses the PEM every time and made opening 10 000 connections client-bound.
 */
function secureContextFor(ca: string): SecureContext {
  let ctx = contexts.get(ca);
  if (!ctx) contexts.set(ca, (ctx = createSecureContext({ ca })));
  return ctx;
}

/** Our side of every connection: TLS verified against the CA, no compression, no 100 MiB default. */
export function wsOptions(ep: Endpoint, basicAuth: boolean): ClientOptions {
  const headers: Record<string, string> = {};
  if (basicAuth && ep.user !== undefined) {
    headers.authorization = 'Basic ' + Buffer.from(`${ep.user}:${ep.password ?? ''}`).toString('base64');
  }
  const options: ClientOptions = {
    ...(ep.ca === undefined ? {} : { secureContext: secureContextFor(ep.ca) }),
    headers,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
    handshakeTimeout: 30_000,
  };
  if (ep.localAddress !== undefined) options.localAddress = ep.localAddress;
  return options;
}

/** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
export function openSocket(url: string, protocols: string[], options: ClientOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    const fail = (err: Error): void => {
      ws.removeAllListeners('open');
      reject(err);
    };
    ws.once('open', () => {
      ws.off('error', fail);
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      fail(Object.assign(new Error(`${url}: HTTP ${res.statusCode}`), { status: res.statusCode }));
    });
    ws.once('error', fail);
  });
}
