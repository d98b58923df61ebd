/**
 * What a worker needs of a system under test: subscriber connections that subscribe (and say
 * when the server has taken the subscription) and hand each delivered frame over, and
 * publisher connections with the socket's unsent byte count for flow control. wsq-client.ts
 * and nats-client.ts implement it; the worker knows neither protocol.
 */
import { WebSocket, type ClientOptions } from 'ws';

export const SYSTEMS = ['wsq-legacy', 'wsq-v1', 'nats'] as const;
export type SystemKind = (typeof SYSTEMS)[number];

/** Where and how to connect; plain data so it crosses into worker threads. */
export interface Endpoint {
  system: SystemKind;
  publishUrl: string;
  subscribeUrl: string;
  user: string | undefined;
  password: string | undefined;
  /** CA certificate PEM text, or undefined for the system's trust store. */
  ca: string | undefined;
  /** wsq.v1 only (`--acks`): every published message carries an id, and the acks are counted. */
  acks?: boolean;
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
  /** Sends one message; `cb` runs once the frame is written to the socket. */
  publish(topic: string, payload: string, cb?: (err?: Error) => void): void;
  /** Bytes accepted by send but not yet written to the kernel. */
  readonly bufferedAmount: number;
  /** Messages the server refused out loud (wsq.v1 error frames, NATS -ERR). */
  readonly refused: number;
  /** Messages the server acknowledged (wsq.v1 with `acks`; 0 otherwise). */
  readonly acked: number;
  close(): void;
}

/** Frames the server sends are handed over as bytes; the receiver finds the payload itself. */
export type DeliveryHandler = (frame: Buffer) => void;
/** The server closed the connection (a wsq slow consumer gets 1013); `code` 1006 when the socket died. */
export type CloseHandler = (code: number) => void;

/** Our side of every connection: TLS verified against the CA, no compression, no 100 MiB default. */
export function wsOptions(ep: Endpoint, basicAuth: boolean): ClientOptions {
  const headers: Record<string, string> = {};
  if (basicAuth && ep.user !== undefined) {
    headers.authorization = 'Basic ' + Buffer.from(`${ep.user}:${ep.password ?? ''}`).toString('base64');
  }
  return { ca: ep.ca, headers, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024, handshakeTimeout: 30_000 };
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
