/** The demo client's public types. */
import type { ClientError, EndpointName } from './errors.js';

export type Protocol = 'legacy' | 'v1';

export interface ClientOptions {
  publishUrl: string;
  subscribeUrl: string;
  user: string;
  password: string;
  protocol: Protocol;
  /** PEM CA certificates to trust instead of the system store. */
  ca?: Buffer | undefined;
  /** Skip certificate verification (testing only). */
  insecure?: boolean;
  connectTimeoutMs?: number;
  /** How long an ack / subscribed / unsubscribed reply may take (v1). */
  replyTimeoutMs?: number;
  maxPayloadBytes?: number;
}

export interface Delivery {
  topic: string;
  /** What a human reads: the legacy Content, or the v1 data as text. */
  text: string;
  /** The frame exactly as received. */
  raw: string;
  seq?: number;
}

export interface PublishResult {
  /** v1 only: the id sent and the seq the msgqueue assigned. */
  id?: string;
  seq?: number;
  /** v1 only: the ack frame as received. */
  raw?: string;
}

export interface SubscribeResult {
  seq?: number;
  recovered?: boolean;
}

export interface ClientEvents {
  message: (d: Delivery) => void;
  /** An error frame that answers no pending request, or a frame that cannot be decoded. */
  error: (err: ClientError) => void;
  /** A socket closed while the client was not closing. */
  close: (endpoint: EndpointName, code: number, reason: string) => void;
}

export interface Client {
  readonly protocol: Protocol;
  /** Opens the sockets asked for (both by default). */
  connect(which?: { publish?: boolean; subscribe?: boolean }): Promise<void>;
  /** Resolves once flushed (legacy) or acknowledged (v1); `onSent` fires when flushed. */
  publish(topic: string, text: string, opts?: { id?: string; onSent?: () => void }): Promise<PublishResult>;
  /** Resolves once flushed (legacy) or confirmed with `subscribed` (v1). */
  subscribe(pattern: string, opts?: { since?: number }): Promise<SubscribeResult>;
  unsubscribe(pattern: string): Promise<void>;
  on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void;
  /** Closes both sockets with 1000 and fails whatever is still pending. */
  close(): Promise<void>;
}
