/**
 * Prometheus metrics (prom-client), one registry per service instance so tests can run
 * several services in one process. wsq's own series carry the `wsq_` prefix and
 * docs/operations.md lists every one of them (a test scrapes the services and keeps the two in
 * step); prom-client's default process and Node.js metrics keep their conventional names
 * (`process_*`, `nodejs_*`), which stock dashboards and alerts expect.
 *
 * No label is called `service`, `endpoint`, `job`, `instance`, `namespace`, `pod` or
 * `container`: a Prometheus Operator ServiceMonitor sets those as target labels and would
 * rename ours to `exported_*`. The service is `wsq_service`, the WebSocket path `path`.
 *
 * The `reason` labels of closes, drops and auth failures come from the tables below, so the
 * same event has the same name in every service; each known reason is exported at 0 from the
 * start, so `rate()` and alerts work before the first occurrence.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { wsqVersion } from './build-info.js';

/** Why the server closed (or refused) a WebSocket connection. */
export const CLOSE_REASONS = {
  slow_consumer: 'unsent bytes passed --max-buffered-bytes (1013)',
  too_large: 'a frame larger than --max-payload-bytes (1009)',
  invalid_utf8: 'a text frame that is not UTF-8 (1007)',
  protocol_error: 'a frame that breaks the WebSocket protocol (1002)',
  ping_timeout: 'no pong to the previous ping (terminated)',
  connection_limit: 'upgrade refused: --max-connections reached (503)',
  user_connection_limit: 'upgrade refused: --max-connections-per-user reached (503)',
  forbidden: 'the user lacks the permission the endpoint needs (1008)',
  bad_request: 'an upgrade the endpoint cannot serve, e.g. an invalid consumer name (1008)',
  consumer_limit: 'msgqueue: --max-consumers durable consumers exist already (1008)',
  consumer_replaced: 'msgqueue: a newer connection took over the durable consumer name (1008)',
  replay_buffer: 'subscriber: live messages held during a replay passed --max-replay-buffer-messages (1013)',
  replay_failed: 'subscriber: a `since` replay failed midway (1013)',
  internal: 'an internal error, e.g. a journal read failure (1011)',
} as const;

/** Why a message was dropped (never delivered, or not journaled). */
export const DROP_REASONS = {
  rate_limited: 'publisher: over --publish-rate-per-sec / --publish-burst (RATE_LIMITED)',
  forbidden: 'publisher: the user may not publish to the topic (FORBIDDEN)',
  too_large: 'publisher: the msgqueue refused the message as too large (TOO_LARGE)',
  outbox_full: 'publisher: the outbox is full while the msgqueue is away (UNAVAILABLE)',
  shutting_down: 'publisher: published during a graceful shutdown (UNAVAILABLE)',
  slow_consumer: 'subscriber: the message for a socket closed as a slow consumer',
  replay_buffer: 'subscriber: live messages held for a connection closed during its replay',
  fanout_backlog: 'subscriber: a legacy (windowless) msgqueue outran the fan-out backlog',
  legacy_invalid_frame: 'msgqueue: an invalid frame from a legacy (ws-go) producer',
  journal_error: 'msgqueue: a legacy append the journal failed to write',
  retention: 'msgqueue: retention deleted messages a durable consumer had not acknowledged',
} as const;

/** Why a request was refused before it reached a WebSocket or an endpoint. */
export const AUTH_FAILURE_REASONS = {
  bad_credentials: 'missing or wrong Basic Auth credentials (401)',
  bad_ticket: 'an unknown, expired or reused ticket (401)',
  auth_busy: 'refused unchecked: too many password checks in progress (503)',
  origin: 'an Origin header not in --allowed-origins (403)',
  metrics: 'GET /metrics without valid credentials under --metrics-auth (401)',
} as const;

export type CloseReason = keyof typeof CLOSE_REASONS;
export type DropReason = keyof typeof DROP_REASONS;
export type AuthFailureReason = keyof typeof AUTH_FAILURE_REASONS;

/** Computes a gauge's value when /metrics is scraped (prom-client calls it on every scrape). */
export type Collect<L extends string> = (gauge: Gauge<L>) => void;

/**
 * A counter cell for per-message hot paths: `cell.n += k` is a plain number update; prom-client
 * reads the cells when /metrics is scraped. A prom-client `inc()` hashes its labels on every
 * call, which cost about 0.5 µs per message per counter in the publisher's profile.
 */
export interface TallyCell {
  n: number;
}

/** What SocketTraffic reads: a net.Socket's (or TLSSocket's) running byte counts. */
export interface ByteCounted {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/**
 * Bytes received and sent by WebSocket connections, by path, counted at the socket rather than
 * per message: an open socket's counts are read when /metrics is scraped, a closed one's
 * final counts are kept.
 */
export interface SocketTraffic {
  /** Counts `socket` under `path` until the returned function is called (at close). */
  track(path: string, socket: ByteCounted): () => void;
}

export interface BaseMetrics {
  registry: Registry;
  /** A counter whose value lives in one TallyCell (no labels). */
  tally(name: string, help: string): TallyCell;
  /** A counter with one label; `cell(value)` returns that label value's TallyCell (made once, kept). */
  tallyBy<L extends string>(name: string, help: string, label: L): (value: string) => TallyCell;
  connectionsOpen: Gauge<'path'>;
  connectionsTotal: Counter<'path'>;
  authFailures: Counter<'reason'>;
  closes: Counter<'reason'>;
  drops: Counter<'reason'>;
  framesInvalid: Counter<'path' | 'code'>;
  /** wsq_received_bytes_total and wsq_sent_bytes_total, by path. */
  traffic: SocketTraffic;
  /** 1 while /readyz answers 200; the service server sets it on every scrape. */
  ready: Gauge;
  counter<L extends string = never>(name: string, help: string, labels?: readonly L[]): Counter<L>;
  /** A gauge; with `collect`, its value is computed on every scrape instead of being kept up to date. */
  gauge<L extends string = never>(name: string, help: string, labels?: readonly L[], collect?: Collect<L>): Gauge<L>;
  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labels?: readonly L[],
  ): Histogram<L>;
}

/** Latency buckets in seconds, from 100 µs to 10 s. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (default true). */
  defaultMetrics?: boolean;
  /** The version in wsq_build_info; defaults to the package's. */
  version?: string;
}

export function createMetrics(service: string, opts: MetricsOptions = {}): BaseMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ wsq_service: service });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const counter = <L extends string = never>(name: string, help: string, labels: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames: labels, registers: [registry] });
  const gauge = <L extends string = never>(
    name: string,
    help: string,
    labels: readonly L[] = [],
    collect?: Collect<L>,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      ...(collect && {
        collect(this: Gauge<L>) {
          collect(this);
        },
      }),
    });
  const histogram = <L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labels: readonly L[] = [],
  ) => new Histogram<L>({ name, help, buckets: [...buckets], labelNames: labels, registers: [registry] });
  const byReason = (name: string, help: string, reasons: Record<string, string>) => {
    const c = counter(name, help, ['reason']);
    for (const reason of Object.keys(reasons)) c.inc({ reason }, 0);
    return c;
  };
  const tallyBy = <L extends string>(name: string, help: string, label: L) => {
    const cells = new Map<string, TallyCell>();
    new Counter<L>({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect(this: Counter<L>) {
        this.reset();
        for (const [value, cell] of cells) this.inc({ [label]: value } as Partial<Record<L, string>>, cell.n);
      },
    });
    return (value: string): TallyCell => {
      let cell = cells.get(value);
      if (!cell) cells.set(value, (cell = { n: 0 }));
      return cell;
    };
  };
  const tally = (name: string, help: string): TallyCell => {
    const cell: TallyCell = { n: 0 };
    new Counter({
      name,
      help,
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        this.inc(cell.n);
      },
    });
    return cell;
  };
  gauge('wsq_build_info', 'Always 1; the labels say which wsq and which Node.js run', ['version', 'node']).set(
    { version: opts.version ?? wsqVersion(), node: process.version },
    1,
  );
  return {
    registry,
    tally,
    tallyBy,
    counter,
    gauge,
    histogram,
    traffic: socketTraffic(registry),
    connectionsOpen: gauge('wsq_connections_open', 'Open WebSocket connections, by path', ['path']),
    connectionsTotal: counter('wsq_connections_total', 'WebSocket connections accepted, by path', ['path']),
    authFailures: byReason(
      'wsq_auth_failures_total',
      'Rejected upgrade and HTTP requests, by reason',
      AUTH_FAILURE_REASONS,
    ),
    closes: byReason('wsq_closes_total', 'Connections closed or refused by the server, by reason', CLOSE_REASONS),
    drops: byReason('wsq_dropped_messages_total', 'Messages dropped, by reason', DROP_REASONS),
    framesInvalid: counter('wsq_invalid_frames_total', 'Frames refused, by path and error code', ['path', 'code']),
    ready: gauge('wsq_ready', '1 while the service is ready (/readyz answers 200), else 0'),
  };
}

function socketTraffic(registry: Registry): SocketTraffic {
  /** Final counts of closed sockets, by path. */
  const closed = new Map<string, { read: number; written: number }>();
  const open = new Map<ByteCounted, string>();
  const totals = (): Map<string, { read: number; written: number }> => {
    const sums = new Map([...closed].map(([path, c]) => [path, { ...c }]));
    for (const [socket, path] of open) {
      const sum = sums.get(path) ?? { read: 0, written: 0 };
      sum.read += socket.bytesRead;
      sum.written += socket.bytesWritten;
      sums.set(path, sum);
    }
    return sums;
  };
  // Both counters read the same sums; each scrape computes them once per counter (two passes
  // over the open sockets, no work between scrapes).
  const counter = (name: string, help: string, pick: (c: { read: number; written: number }) => number) =>
    new Counter<'path'>({
      name,
      help,
      labelNames: ['path'],
      registers: [registry],
      collect(this: Counter<'path'>) {
        this.reset();
        for (const [path, c] of totals()) this.inc({ path }, pick(c));
      },
    });
  counter('wsq_received_bytes_total', 'Bytes received on WebSocket connections (TLS payload), by path', (c) => c.read);
  counter('wsq_sent_bytes_total', 'Bytes sent on WebSocket connections (TLS payload), by path', (c) => c.written);
  return {
    track(path, socket) {
      open.set(socket, path);
      return () => {
        if (!open.delete(socket)) return;
        const c = closed.get(path) ?? { read: 0, written: 0 };
        c.read += socket.bytesRead;
        c.written += socket.bytesWritten;
        closed.set(path, c);
      };
    },
  };
}

/**
 * The close reason of a WebSocket error raised by `ws` while reading a peer's frames (ws then
 * closes the socket itself, with the status in parentheses); undefined for socket errors
 * (a reset peer), which are not a close by the server.
 */
export function closeReasonOfWsError(err: Error): CloseReason | undefined {
  const { code } = err as Error & { code?: unknown };
  if (typeof code !== 'string') return undefined;
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH')
    return 'too_large';
  if (code === 'WS_ERR_INVALID_UTF8') return 'invalid_utf8';
  if (code.startsWith('WS_ERR_')) return 'protocol_error';
  return undefined;
}
