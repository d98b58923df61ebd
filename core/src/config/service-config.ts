/**
 * The typed shapes of the options every service shares (commonOptions) and of the msgqueue
 * link (LINK_OPTIONS), with their converters and the link's cross-field checks, so publisher
 * and subscriber do not each restate them.
 */
import type { ConfigValues } from './config.js';
import { ConfigError } from '../protocol/errors.js';
import { DEMO_PASSWORD, DEMO_USER } from './options.js';
import { NATS_NAME, type StreamSettings } from '../queue/jetstream/stream-config.js';

export interface CommonConfig {
  readonly host: string;
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** False: plain HTTP/WS behind a TLS-terminating proxy (--tls=false). */
  readonly tls: boolean;
  readonly users: string | undefined;
  readonly demo: boolean;
  readonly maxPayloadBytes: number;
  readonly maxBufferedBytes: number;
  readonly pingIntervalMs: number;
  readonly allowedOrigins: readonly string[];
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
  readonly handshakeTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly metricsAuth: boolean;
  readonly perMessageDeflate: boolean;
}

export interface LinkConfig {
  readonly queue: string;
  readonly queueUser: string | undefined;
  readonly queuePassword: string | undefined;
  /** NATS token (JetStream queues only). */
  readonly queueToken?: string | undefined;
  readonly insecure: boolean;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
}

function optStr(v: unknown): string | undefined {
  return v === undefined ? undefined : String(v);
}

export function toCommonConfig(values: ConfigValues): CommonConfig {
  const v = values as Record<string, unknown>;
  return {
    host: String(v.host),
    port: v.port as number,
    cert: String(v.cert),
    key: String(v.key),
    ca: String(v.ca),
    tls: v.tls !== false,
    users: optStr(v.users),
    demo: v.demo === true,
    maxPayloadBytes: v.maxPayloadBytes as number,
    maxBufferedBytes: v.maxBufferedBytes as number,
    pingIntervalMs: v.pingIntervalMs as number,
    allowedOrigins: Object.freeze([...((v.allowedOrigins as string[] | undefined) ?? [])]),
    maxConnections: v.maxConnections as number,
    maxConnectionsPerUser: v.maxConnectionsPerUser as number,
    handshakeTimeoutMs: v.handshakeTimeoutMs as number,
    requestTimeoutMs: v.requestTimeoutMs as number,
    metricsAuth: v.metricsAuth === true,
    perMessageDeflate: v.perMessageDeflate === true,
  };
}

/** The JetStream home's settings (JETSTREAM_OPTIONS); used when --queue is nats:// or tls://. */
export interface JetStreamConfig extends StreamSettings {
  /** Subscriber only. */
  readonly consumerTtlMs?: number;
}

export function toJetStreamConfig(values: ConfigValues): JetStreamConfig {
  const v = values as Record<string, unknown>;
  return {
    stream: String(v.stream),
    streamReplicas: v.streamReplicas as number,
    retainMessages: v.retainMessages as number,
    retainBytes: v.retainBytes as number,
    retainMs: v.retainMs as number,
    dedupeWindowMs: v.dedupeWindowMs as number,
    ...(v.consumerTtlMs === undefined ? {} : { consumerTtlMs: v.consumerTtlMs as number }),
  };
}

/** Whether --queue names NATS servers (the JetStream home) rather than a msgqueue. */
export function isNatsQueue(queue: string): boolean {
  return /^\s*(nats|tls):\/\//i.test(queue);
}

/**
 * With --demo and no link credentials, the link uses the demo user too (npm start's trio);
 * not on NATS, whose users are NATS's own.
 */
export function toLinkConfig(values: ConfigValues): LinkConfig {
  const v = values as Record<string, unknown>;
  const demoLink =
    v.demo === true && v.queueUser === undefined && v.queuePassword === undefined && !isNatsQueue(String(v.queue));
  return {
    queue: String(v.queue),
    queueUser: demoLink ? DEMO_USER : optStr(v.queueUser),
    queuePassword: demoLink ? DEMO_PASSWORD : optStr(v.queuePassword),
    queueToken: optStr(v.queueToken),
    insecure: v.insecure === true,
    reconnectMinMs: v.reconnectMinMs as number,
    reconnectMaxMs: v.reconnectMaxMs as number,
  };
}

/**
 * The queue's cross-field checks. A msgqueue: one wss:// base URL without credentials, query or
 * fragment (a path is a prefix, e.g. a reverse proxy's). NATS: a comma-separated list of
 * nats:// or tls:// URLs (never mixed with wss://), host and port only. User and password
 * together; a token only on NATS and not with a user.
 */
export function checkLinkValues(v: Record<string, unknown>): void {
  if (String(v.queue).includes(',') || isNatsQueue(String(v.queue))) checkNatsValues(v);
  else checkWssValues(v);
  if (v.queueUser !== undefined && v.queuePassword === undefined) {
    throw new ConfigError('queuePassword', 'is required with queueUser (prefer WSQ_QUEUE_PASSWORD)');
  }
  if (v.queuePassword !== undefined && v.queueUser === undefined) {
    throw new ConfigError('queueUser', 'is required with queuePassword');
  }
}

function checkNatsValues(v: Record<string, unknown>): void {
  const urls = String(v.queue)
    .split(',')
    .map((s) => s.trim());
  for (const u of urls) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new ConfigError('queue', `not a URL: ${JSON.stringify(u)}`);
    }
    if (url.protocol === 'wss:') {
      throw new ConfigError('queue', 'mixes wss:// (a msgqueue) with nats:// or tls:// (JetStream); choose one home');
    }
    if (url.protocol !== 'nats:' && url.protocol !== 'tls:') {
      throw new ConfigError('queue', `${JSON.stringify(u)} is not a nats:// or tls:// URL`);
    }
    if (url.hostname === '') throw new ConfigError('queue', `${JSON.stringify(u)} has no host`);
    if (url.username !== '' || url.password !== '') {
      throw new ConfigError(
        'queue',
        'must not carry credentials; use --queue-user/WSQ_QUEUE_PASSWORD or WSQ_QUEUE_TOKEN',
      );
    }
    if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      throw new ConfigError('queue', `${JSON.stringify(u)}: a NATS URL is host and port only`);
    }
  }
  if (v.queueToken !== undefined && v.queueUser !== undefined) {
    throw new ConfigError('queueToken', 'is either a token or --queue-user/--queue-password, not both');
  }
  if (v.stream !== undefined && !NATS_NAME.test(String(v.stream))) {
    throw new ConfigError('stream', 'must be 1-64 characters of A-Z a-z 0-9 _ -');
  }
  // The subscriber's --name is its durable consumer's name.
  if (v.name !== undefined && !NATS_NAME.test(String(v.name))) {
    throw new ConfigError('name', 'on JetStream is a durable consumer name: 1-64 characters of A-Z a-z 0-9 _ -');
  }
}

function checkWssValues(v: Record<string, unknown>): void {
  if (v.queueToken !== undefined) throw new ConfigError('queueToken', 'is for NATS queues (nats:// or tls://) only');
  let url: URL;
  try {
    url = new URL(String(v.queue));
  } catch {
    throw new ConfigError('queue', `not a URL: ${JSON.stringify(v.queue)}`);
  }
  if (url.protocol !== 'wss:')
    throw new ConfigError(
      'queue',
      'must be a wss:// URL (the link is always TLS), or nats:// / tls:// URLs for JetStream',
    );
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError('queue', 'must not carry credentials; use --queue-user and WSQ_QUEUE_PASSWORD');
  }
  // The link appends /pushmsg or /popmsg to the path: a query or fragment would end up before it.
  if (/[?#]/.test(String(v.queue))) throw new ConfigError('queue', 'must not have a query (?) or a fragment (#)');
  if (/\/(pushmsg|popmsg)\/*$/.test(url.pathname)) {
    throw new ConfigError('queue', 'is the base URL: leave out /pushmsg and /popmsg, the link appends them');
  }
}
