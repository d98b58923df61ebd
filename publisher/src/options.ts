/**
 * The publisher's options: the common ones, the msgqueue link, the outbox that holds messages
 * while the msgqueue is away, and the per-connection publish rate. Parsed and validated once
 * by core/config; `finishOptions` does the cross-field checks, `toPublisherConfig` types it.
 */
import {
  ConfigError,
  DEMO_PASSWORD,
  DEMO_USER,
  LINK_OPTIONS,
  commonOptions,
  resolveValues,
  type ConfigValues,
  type OptionSpec,
} from '@wsq/core';

export const DEFAULT_PORT = 8081;

export const OPTIONS: readonly OptionSpec[] = [
  ...commonOptions(DEFAULT_PORT),
  ...LINK_OPTIONS,
  {
    key: 'outboxMessages',
    type: 'int',
    default: 10000,
    min: 1,
    unit: 'messages',
    help: 'messages held while the msgqueue has not journaled them; past it publishes get UNAVAILABLE',
  },
  {
    key: 'outboxBytes',
    type: 'int',
    default: 8 * 1024 * 1024,
    min: 1024,
    unit: 'bytes',
    help: 'payload bytes held in the outbox; past it publishes get UNAVAILABLE',
  },
  {
    key: 'publishRatePerSec',
    type: 'int',
    default: 1000,
    min: 1,
    unit: 'messages/s',
    help: 'sustained publish rate per connection (token bucket); faster gets RATE_LIMITED',
  },
  {
    key: 'publishBurst',
    type: 'int',
    default: 2000,
    min: 1,
    unit: 'messages',
    help: 'publish burst per connection above the sustained rate',
  },
  {
    key: 'drainTimeoutMs',
    type: 'int',
    default: 5000,
    min: 0,
    unit: 'ms',
    help: 'on shutdown, how long to wait for the msgqueue to take in-flight messages before closing clients',
  },
];

export interface PublisherConfig {
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
  readonly metricsAuth: boolean;
  readonly perMessageDeflate: boolean;
  readonly queue: string;
  readonly queueUser: string | undefined;
  readonly queuePassword: string | undefined;
  readonly insecure: boolean;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly outboxMessages: number;
  readonly outboxBytes: number;
  readonly publishRatePerSec: number;
  readonly publishBurst: number;
  readonly drainTimeoutMs: number;
}

/**
 * Cross-field checks and derived defaults, run by loadConfig before the values are frozen.
 * With --demo and no link credentials the link uses the demo user too (npm start's trio).
 */
export function finishOptions(values: Record<string, unknown>): void {
  if (values.demo === true && values.queueUser === undefined && values.queuePassword === undefined) {
    values.queueUser = DEMO_USER;
    values.queuePassword = DEMO_PASSWORD;
  }
  if (values.queueUser !== undefined && values.queuePassword === undefined) {
    throw new ConfigError('queuePassword', 'is required with queueUser (prefer WSQ_QUEUE_PASSWORD)');
  }
  if (values.queuePassword !== undefined && values.queueUser === undefined) {
    throw new ConfigError('queueUser', 'is required with queuePassword');
  }
  if ((values.reconnectMaxMs as number) < (values.reconnectMinMs as number)) {
    throw new ConfigError('reconnectMaxMs', 'must be >= reconnectMinMs');
  }
  let url: URL;
  try {
    url = new URL(String(values.queue));
  } catch {
    throw new ConfigError('queue', `not a URL: ${JSON.stringify(values.queue)}`);
  }
  if (url.protocol !== 'wss:') throw new ConfigError('queue', 'must be a wss:// URL (the link is always TLS)');
}

function str(v: unknown): string {
  return String(v);
}
function optStr(v: unknown): string | undefined {
  return v === undefined ? undefined : String(v);
}

/** The typed, frozen config. `values` come from loadConfig (or a test building them by hand). */
export function toPublisherConfig(values: ConfigValues): PublisherConfig {
  const v = values as Record<string, unknown>;
  return Object.freeze({
    host: str(v.host),
    port: v.port as number,
    cert: str(v.cert),
    key: str(v.key),
    ca: str(v.ca),
    users: optStr(v.users),
    demo: v.demo === true,
    maxPayloadBytes: v.maxPayloadBytes as number,
    maxBufferedBytes: v.maxBufferedBytes as number,
    pingIntervalMs: v.pingIntervalMs as number,
    allowedOrigins: Object.freeze([...((v.allowedOrigins as string[] | undefined) ?? [])]),
    maxConnections: v.maxConnections as number,
    maxConnectionsPerUser: v.maxConnectionsPerUser as number,
    handshakeTimeoutMs: v.handshakeTimeoutMs as number,
    metricsAuth: v.metricsAuth === true,
    perMessageDeflate: v.perMessageDeflate === true,
    queue: str(v.queue),
    queueUser: optStr(v.queueUser),
    queuePassword: optStr(v.queuePassword),
    insecure: v.insecure === true,
    reconnectMinMs: v.reconnectMinMs as number,
    reconnectMaxMs: v.reconnectMaxMs as number,
    outboxMessages: v.outboxMessages as number,
    outboxBytes: v.outboxBytes as number,
    publishRatePerSec: v.publishRatePerSec as number,
    publishBurst: v.publishBurst as number,
    drainTimeoutMs: v.drainTimeoutMs as number,
  });
}

/**
 * Defaults overridden by `over` (camelCase keys), checked field by field and across fields
 * exactly like the command line; for tests and embedding. Never reads process.env.
 */
export function publisherConfig(over: Record<string, unknown> = {}): PublisherConfig {
  const values = resolveValues(OPTIONS, over, {}, {});
  finishOptions(values);
  return toPublisherConfig(values as ConfigValues);
}
