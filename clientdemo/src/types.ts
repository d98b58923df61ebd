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
  /** The frame: as received (legacy), re-encoded from the SDK's message in the server's field order (v1). */
  raw: string;
  seq?: number;
}

export interface PublishResult {
  /** v1 only: the id sent and the seq the msgqueue assigned. */
  id?: string;
  seq?: number;
  /** v1 only: the ack frame (re-encoded from the SDK's result, in the server's field order). */
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
  /**
   * A connection is gone for good while the client was not closing: any drop in legacy mode;
   * in v1 only what reconnecting cannot fix (1008, a 401).
   */
  close: (endpoint: EndpointName, code: number, reason: string) => void;
  /** v1: the connection state (connecting, open, reconnecting, closed) as @wsq/client reports it. */
  state: (state: 'connecting' | 'open' | 'reconnecting' | 'closed') => void;
}

export interface Client {
  readonly protocol: Protocol;
  /** Opens the sockets asked for (both by default). */
  connect(which?: { publish?: boolean; subscribe?: boolean }): Promise<void>;
  /**
   * Resolves once flushed (legacy) or acknowledged (v1); `onSent` fires when flushed (legacy) or
   * handed to the SDK (v1: sent, or queued while it reconnects).
   */
  publish(topic: string, text: string, opts?: { id?: string; onSent?: () => void }): Promise<PublishResult>;
  /** Resolves once flushed (legacy) or confirmed with `subscribed` (v1). */
  subscribe(pattern: string, opts?: { since?: number }): Promise<SubscribeResult>;
  unsubscribe(pattern: string): Promise<void>;
  on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void;
  /** Closes both sockets with 1000 and fails whatever is still pending. */
  close(): Promise<void>;
}
