/**
 * One NATS connection of a JetStream home, shared by the producer and the consumer opened on
 * it, and the stream check: the session is 'up' while the connection is and the stream was
 * found (or created) as the flags describe. A mismatch is logged at error, naming the field,
 * and checked again with backoff; the service stays unready meanwhile and never crashes.
 */
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { Logger } from '../../observe/log.js';
import { createBackoff } from '../backoff.js';
import type { LinkState } from '../queue.js';
import { streamMismatch, wantedStream, type StreamSettings } from './stream-config.js';

export interface SessionOptions extends StreamSettings {
  /** nats:// or tls:// URLs of the cluster's servers. */
  servers: readonly string[];
  user?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
  /** PEM of the CA that verifies the servers' TLS (tls:// URLs). */
  ca?: Buffer | undefined;
  /** Do not verify the servers' TLS certificates (testing only). */
  insecure: boolean;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  pingIntervalMs: number;
  /** The connection's name as the NATS server shows it. */
  connectionName: string;
  log: Logger;
  /** Told of the connection's state and of each reconnect, for /metrics. */
  onConnection?(connected: boolean, reconnected: boolean): void;
}

export interface Session {
  readonly state: LinkState;
  /** Set while the connection is open (up or reconnecting). */
  readonly js: JetStreamClient | undefined;
  readonly jsm: JetStreamManager | undefined;
  /** The connection itself, for the producer's raw publishes. */
  readonly nc: NatsConnection | undefined;
  readonly stream: string;
  /** Calls `listener` on every state change; returns the unsubscribe. */
  watch(listener: (state: LinkState, detail?: string) => void): () => void;
  /** A publish or consume failed in a way that puts the stream in doubt: down until checked again. */
  suspect(detail: string): void;
  /** Fresh stream info (first and last seq). */
  streamInfo(): Promise<StreamInfo>;
  close(): Promise<void>;
}

export function createSession(opts: SessionOptions): Session {
  const log = opts.log.child({ component: 'jetstream', stream: opts.stream });
  const want = wantedStream(opts);
  const backoff = createBackoff(opts.reconnectMinMs, opts.reconnectMaxMs);
  const listeners = new Set<(state: LinkState, detail?: string) => void>();
  let state: LinkState = 'connecting';
  let nc: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  let jsm: JetStreamManager | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let checking = false;
  let lastProblem: string | undefined;

  function setState(next: LinkState, detail?: string): void {
    if (next === state) return;
    state = next;
    if (next === 'up') log.info('JetStream stream checked: queue up');
    else if (next === 'down') log.warn({ detail }, 'JetStream queue down');
    for (const l of [...listeners]) l(next, detail);
  }

  /** Logs a problem at error once per distinct text, so a retry loop does not flood the log. */
  function problem(detail: string, err?: unknown): void {
    if (detail !== lastProblem) log.error({ err: (err as Error | undefined)?.message }, detail);
    lastProblem = detail;
    setState('down', detail);
  }

  function later(fn: () => void): void {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, backoff.next());
  }

  function connectOptions(): NodeConnectionOptions {
    const o: NodeConnectionOptions = {
      servers: [...opts.servers],
      name: opts.connectionName,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectMinMs,
      reconnectJitter: opts.reconnectMinMs,
      pingInterval: opts.pingIntervalMs,
      timeout: Math.max(1000, opts.reconnectMaxMs),
    };
    if (opts.user !== undefined) {
      o.user = opts.user;
      o.pass = opts.password ?? '';
    }
    if (opts.token !== undefined) o.token = opts.token;
    if (opts.servers.some((s) => s.startsWith('tls://'))) {
      // Passed on to node:tls.connect: the CA, or no verification at all with --insecure.
      const tls: Record<string, unknown> = {};
      if (opts.ca && opts.ca.length > 0) tls.ca = opts.ca.toString();
      if (opts.insecure) tls.rejectUnauthorized = false;
      o.tls = tls;
    }
    return o;
  }

  async function open(): Promise<void> {
    if (closed) return;
    let conn: NatsConnection;
    try {
      conn = await connect(connectOptions());
    } catch (err) {
      problem(`cannot connect to NATS (${opts.servers.join(',')}): ${(err as Error).message}`, err);
      later(() => void open());
      return;
    }
    if (closed) {
      await conn.close();
      return;
    }
    nc = conn;
    js = jetstream(conn);
    jsm = await jetstreamManager(conn, { checkAPI: false });
    opts.onConnection?.(true, false);
    log.info({ server: conn.getServer() }, 'connected to NATS');
    void watchStatus(conn);
    void check();
  }

  async function watchStatus(conn: NatsConnection): Promise<void> {
    for await (const s of conn.status()) {
      if (closed) return;
      if (s.type === 'disconnect') {
        opts.onConnection?.(false, false);
        setState('down', `NATS connection lost (${s.server})`);
      } else if (s.type === 'reconnect') {
        opts.onConnection?.(true, true);
        log.info({ server: s.server }, 'reconnected to NATS');
        void check();
      }
    }
  }

  /** Finds the stream, creates it when missing, compares it when present. One at a time. */
  async function check(): Promise<void> {
    if (checking || closed || !jsm) return;
    checking = true;
    try {
      let info: StreamInfo | undefined;
      try {
        info = await jsm.streams.info(opts.stream);
      } catch (err) {
        if (!(err instanceof JetStreamApiError) || err.apiError().err_code !== 10059) throw err;
      }
      if (info === undefined) {
        info = await jsm.streams.add({ ...want } as Parameters<JetStreamManager['streams']['add']>[0]);
        log.info({ replicas: want.num_replicas }, 'JetStream stream created');
      }
      const mismatch = streamMismatch(info.config as unknown as Record<string, unknown>, want);
      if (mismatch) {
        problem(mismatch);
        later(() => void check());
        return;
      }
      lastProblem = undefined;
      backoff.reset();
      setState('up');
    } catch (err) {
      if (!closed) {
        problem(`JetStream stream ${opts.stream} cannot be checked: ${(err as Error).message}`, err);
        later(() => void check());
      }
    } finally {
      checking = false;
    }
  }

  void open();

  return {
    get state() {
      return state;
    },
    get js() {
      return js;
    },
    get jsm() {
      return jsm;
    },
    get nc() {
      return nc;
    },
    stream: opts.stream,
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    suspect(detail) {
      if (closed) return;
      setState('down', detail);
      if (!timer && !checking) later(() => void check());
    },
    async streamInfo() {
      if (!jsm) throw new Error('not connected to NATS');
      return jsm.streams.info(opts.stream);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      setState('closed');
      listeners.clear();
      const conn = nc;
      nc = js = jsm = undefined;
      opts.onConnection?.(false, false);
      if (conn) await conn.close().catch(() => undefined);
    },
  };
}
