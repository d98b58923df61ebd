/**
 * The typed shapes of the options every service shares (commonOptions) and of the msgqueue
 * link (LINK_OPTIONS), with their converters and the link's cross-field checks, so publisher
 * and subscriber do not each restate them.
 */
import type { ConfigValues } from './config.js';
import { ConfigError } from '../protocol/errors.js';
import { DEMO_PASSWORD, DEMO_USER } from './options.js';

export interface CommonConfig {
  readonly host: string;
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
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

/** With --demo and no link credentials, the link uses the demo user too (npm start's trio). */
export function toLinkConfig(values: ConfigValues): LinkConfig {
  const v = values as Record<string, unknown>;
  const demoLink = v.demo === true && v.queueUser === undefined && v.queuePassword === undefined;
  return {
    queue: String(v.queue),
    queueUser: demoLink ? DEMO_USER : optStr(v.queueUser),
    queuePassword: demoLink ? DEMO_PASSWORD : optStr(v.queuePassword),
    insecure: v.insecure === true,
    reconnectMinMs: v.reconnectMinMs as number,
    reconnectMaxMs: v.reconnectMaxMs as number,
  };
}

/**
 * The link's cross-field checks: a wss:// base URL without credentials, query or fragment (a
 * path is a prefix, e.g. a reverse proxy's), user and password together.
 */
export function checkLinkValues(v: Record<string, unknown>): void {
  let url: URL;
  try {
    url = new URL(String(v.queue));
  } catch {
    throw new ConfigError('queue', `not a URL: ${JSON.stringify(v.queue)}`);
  }
  if (url.protocol !== 'wss:') throw new ConfigError('queue', 'must be a wss:// URL (the link is always TLS)');
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError('queue', 'must not carry credentials; use --queue-user and WSQ_QUEUE_PASSWORD');
  }
  // The link appends /pushmsg or /popmsg to the path: a query or fragment would end up before it.
  if (/[?#]/.test(String(v.queue))) throw new ConfigError('queue', 'must not have a query (?) or a fragment (#)');
  if (/\/(pushmsg|popmsg)\/*$/.test(url.pathname)) {
    throw new ConfigError('queue', 'is the base URL: leave out /pushmsg and /popmsg, the link appends them');
  }
  if (v.queueUser !== undefined && v.queuePassword === undefined) {
    throw new ConfigError('queuePassword', 'is required with queueUser (prefer WSQ_QUEUE_PASSWORD)');
  }
  if (v.queuePassword !== undefined && v.queueUser === undefined) {
    throw new ConfigError('queueUser', 'is required with queuePassword');
  }
}
