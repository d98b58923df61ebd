/**
 * The public client: `connect()` opens the publisher and/or subscriber connections and returns
 * a Wsq handle (publish, subscribe, close, 'state' and 'error' events). Platform-neutral: the
 * Node and browser entries pass their Platform.
 */
import { createBackoff } from './backoff.js';
import { Connection, type ConnectionState } from './connection.js';
import { Emitter } from './emitter.js';
import { isFatal, WsqError, type Endpoint } from './errors.js';
import { decodeServerFrame, type ServerFrame } from './frames.js';
import { Publishes, type PublishOptions, type PublishResult } from './publishes.js';
import { Subscriptions, type SubscribeOptions } from './subscriptions.js';
import type { Subscription } from './subscription.js';
import { fetchTicket, httpBaseOf, withTicket } from './tickets.js';
import type { Platform, SocketRequest } from './transport.js';

export type State = ConnectionState;

export interface ConnectOptions {
  /** `wss://host:8081/publish`; without it the client cannot publish. */
  publishUrl?: string;
  /** `wss://host:8082/subscribe`; without it the client cannot subscribe. */
  subscribeUrl?: string;
  user?: string;
  password?: string;
  /**
   * Browsers: a fresh single-use ticket for the WebSocket URL about to be opened (called for
   * every attempt). By default, with `user` and `password`, fetchTicket() on that URL's host.
   */
  ticket?: (wsUrl: string) => Promise<string>;
  /** Time allowed to open each connection (default 10000 ms). */
  connectTimeoutMs?: number;
  /** Time allowed for a publish's ack, reconnects included (default 30000 ms). */
  ackTimeoutMs?: number;
  /** Publishes waiting for their ack at most; more reject with MAX_PENDING (default 1000). */
  maxPending?: number;
  /** Messages a subscription buffers for a slow iterator (default 10000). */
  maxBufferedMessages?: number;
  /** Subscriptions one client may hold (default 128, the server's default limit). */
  maxSubscriptions?: number;
  /** Reconnect backoff: the first delay and the ceiling (defaults 100 ms and 10000 ms). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How long close() waits for the close handshake (default 2000 ms). */
  closeTimeoutMs?: number;
}

export const DEFAULTS = Object.freeze({
  connectTimeoutMs: 10_000,
  ackTimeoutMs: 30_000,
  maxPending: 1000,
  maxBufferedMessages: 10_000,
  maxSubscriptions: 128,
  reconnectMinMs: 100,
  reconnectMaxMs: 10_000,
  closeTimeoutMs: 2000,
});

export type ClientEvents = {
  /** The client's state: connecting, open (every connection), reconnecting (one is), closed. */
  state: [State];
  /** A failure not tied to one call: a fatal close, a frame that is not wsq.v1, a stray error frame. */
  error: [WsqError];
};

export interface Wsq {
  publish(topic: string, data: unknown, opts?: PublishOptions): Promise<PublishResult>;
  subscribe(pattern: string, opts?: SubscribeOptions): Subscription;
  on<K extends keyof ClientEvents>(event: K, fn: (...args: ClientEvents[K]) => void): () => void;
  readonly state: State;
  /** Times a connection came back after it was lost. */
  readonly reconnects: number;
  /** Publishes waiting for their ack. */
  readonly pending: number;
  /** Closes both connections, fails pending publishes with CLOSED, ends every subscription. */
  close(): Promise<void>;
}

function randomPrefix(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36];
  return s;
}

export async function connectWith(platform: Platform, options: ConnectOptions): Promise<Wsq> {
  const o = { ...DEFAULTS, ...dropUndefined(options) };
  if (o.publishUrl === undefined && o.subscribeUrl === undefined) {
    throw new WsqError('BAD_ARGUMENT', 'connect needs publishUrl, subscribeUrl or both');
  }
  const { user, password } = o;
  let ticket = o.ticket;
  if (!platform.canSendHeaders && ticket === undefined) {
    if (user === undefined || password === undefined) {
      throw new WsqError('BAD_ARGUMENT', 'browsers need a ticket callback, or user and password to fetch tickets');
    }
    ticket = (url) => fetchTicket(httpBaseOf(url), user, password);
  }
  if (ticket === undefined && (user === undefined || password === undefined)) {
    throw new WsqError('BAD_ARGUMENT', 'connect needs user and password (or a ticket callback)');
  }
  const getTicket = ticket;
  const prepare = async (url: string): Promise<SocketRequest> => {
    if (getTicket) return { url: withTicket(url, await getTicket(url)), connectTimeoutMs: o.connectTimeoutMs };
    return { url, basic: { user: user!, password: password! }, connectTimeoutMs: o.connectTimeoutMs };
  };

  const events = new Emitter<ClientEvents>();
  const retryBackoff = createBackoff(o.reconnectMinMs, o.reconnectMaxMs);
  let prefix = randomPrefix();
  let counter = 0;
  let state: State = 'connecting';
  let closing: Promise<void> | undefined;

  const connections: Connection[] = [];
  const report = (err: WsqError): void => events.emit('error', err);

  const publishes: Publishes = new Publishes({
    maxPending: o.maxPending,
    ackTimeoutMs: o.ackTimeoutMs,
    send: (text: string): boolean => pub?.send(text) ?? false,
    retryDelayMs: () => retryBackoff.next(),
    nextId: () => {
      if (counter >= Number.MAX_SAFE_INTEGER) [prefix, counter] = [randomPrefix(), 0];
      return `${prefix}-${(counter++).toString(36)}`;
    },
  });
  const subscriptions: Subscriptions = new Subscriptions({
    maxBufferedMessages: o.maxBufferedMessages,
    maxSubscriptions: o.maxSubscriptions,
    send: (text: string): boolean => sub?.send(text) ?? false,
    retryDelayMs: () => retryBackoff.next(),
  });

  function onText(name: Endpoint, text: string, handle: (f: ServerFrame) => boolean): void {
    let frame: ServerFrame;
    try {
      frame = decodeServerFrame(text);
    } catch (err) {
      report(err as WsqError);
      return;
    }
    if (handle(frame)) return;
    if (frame.op === 'error') {
      report(new WsqError(frame.code, `${name}: ${frame.code}: ${frame.message}`, { endpoint: name }));
    }
  }

  function updateState(): void {
    if (state === 'closed') return;
    const states = connections.map((c) => c.state);
    const next: State = states.every((s) => s === 'open')
      ? 'open'
      : states.some((s) => s === 'reconnecting' || (s === 'connecting' && state !== 'connecting'))
        ? 'reconnecting'
        : 'connecting';
    if (next === state) return;
    state = next;
    events.emit('state', state);
  }

  function shutdown(err?: WsqError): Promise<void> {
    closing ??= (async () => {
      state = 'closed';
      publishes.close(err ?? new WsqError('CLOSED', 'the client is closed'));
      subscriptions.close(err);
      await Promise.all(connections.map((c) => c.close()));
      events.emit('state', 'closed');
      events.clear();
    })();
    return closing;
  }

  function connection(
    name: Endpoint,
    url: string,
    onOpen: () => void,
    handle: (f: ServerFrame) => boolean,
  ): Connection {
    const c = new Connection({
      name,
      url,
      platform,
      prepare,
      backoff: createBackoff(o.reconnectMinMs, o.reconnectMaxMs),
      closeTimeoutMs: o.closeTimeoutMs,
      onOpen: () => {
        retryBackoff.reset();
        onOpen();
      },
      onText: (text) => onText(name, text, handle),
      onState: (s) => {
        if (s === 'reconnecting' && name === 'subscriber') subscriptions.suspend();
        updateState();
      },
      onFatal: (err) => {
        // Closed first (state 'closed' at once), so 'error' listeners see a closed client.
        const done = shutdown(err);
        report(err);
        void done;
      },
    });
    connections.push(c);
    return c;
  }

  const pub: Connection | undefined =
    o.publishUrl === undefined
      ? undefined
      : connection(
          'publisher',
          o.publishUrl,
          () => publishes.resend(),
          (f: ServerFrame) => publishes.onFrame(f),
        );
  const sub: Connection | undefined =
    o.subscribeUrl === undefined
      ? undefined
      : connection(
          'subscriber',
          o.subscribeUrl,
          () => subscriptions.resubscribe(),
          (f: ServerFrame) => subscriptions.onFrame(f),
        );

  // Every first attempt settles (each is bounded by connectTimeoutMs); when several fail, the
  // one retrying cannot fix says most (a browser sees a refused cross-origin ticket request
  // only as a network failure, the same-origin one as the 403 it is).
  const failures = (await Promise.allSettled(connections.map((c) => c.start())))
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => r.reason as WsqError);
  if (failures.length > 0) {
    const err = failures.find((e) => e instanceof WsqError && isFatal(e)) ?? failures[0]!;
    await shutdown(err);
    throw err;
  }
  updateState();

  return {
    publish: (topic, data, opts) =>
      pub ? publishes.publish(topic, data, opts) : Promise.reject(new WsqError('BAD_ARGUMENT', 'no publishUrl given')),
    subscribe: (pattern, opts) => {
      if (!sub) throw new WsqError('BAD_ARGUMENT', 'no subscribeUrl given');
      return subscriptions.subscribe(pattern, opts);
    },
    on: (event, fn) => events.on(event, fn),
    get state() {
      return state;
    },
    get reconnects() {
      return connections.reduce((n, c) => n + c.reconnects, 0);
    },
    get pending() {
      return publishes.size;
    },
    close: () => shutdown(),
  };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
