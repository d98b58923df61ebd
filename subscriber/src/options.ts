/**
 * The subscriber's options: the common ones (port 8082), the msgqueue link, and its own
 * limits. Values are validated field by field by core/config, across fields here, then
 * converted once into a frozen, typed SubscriberConfig.
 */
import {
  ConfigError,
  DEMO_PASSWORD,
  DEMO_USER,
  LINK_OPTIONS,
  MAX_CONSUMER_NAME_LENGTH,
  MAX_PENDING_REPLAYS,
  commonOptions,
  type ConfigValues,
  type OptionSpec,
} from '@wsq/core';

export const SUBSCRIBER_PORT = 8082;

const OWN_OPTIONS: OptionSpec[] = [
  {
    key: 'name',
    type: 'string',
    default: 'subscriber',
    help: 'durable consumer name on the msgqueue; every subscriber instance needs its own',
  },
  {
    key: 'consumerWindow',
    type: 'int',
    default: 4096,
    min: 1,
    max: 1_000_000,
    unit: 'messages',
    help: 'messages the msgqueue may send ahead of our acknowledgements',
  },
  {
    key: 'maxSubscriptionsPerConnection',
    type: 'int',
    default: 128,
    min: 1,
    max: 100_000,
    unit: 'subscriptions',
    help: 'subscriptions one connection may hold; more answer LIMIT_EXCEEDED',
  },
  {
    key: 'replayBatchMessages',
    type: 'int',
    default: 1000,
    min: 1,
    max: 100_000,
    unit: 'messages',
    help: 'messages asked of the msgqueue per replay request (a `since` resume pages through them)',
  },
  {
    key: 'maxReplayBufferMessages',
    type: 'int',
    default: 10000,
    min: 1,
    unit: 'messages',
    help: 'live messages held for a connection while its replay runs; past it the connection is closed with 1013',
  },
  {
    key: 'maxConcurrentReplays',
    type: 'int',
    default: 16,
    min: 1,
    max: MAX_PENDING_REPLAYS,
    unit: 'requests',
    help: 'replay requests in flight to the msgqueue at once, all connections together; more wait their turn',
  },
];

export const OPTIONS: readonly OptionSpec[] = [...commonOptions(SUBSCRIBER_PORT), ...LINK_OPTIONS, ...OWN_OPTIONS];

export interface SubscriberConfig {
  readonly host: string;
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly users: string | undefined;
  readonly demo: boolean;
  readonly logLevel: string;
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
  readonly name: string;
  readonly consumerWindow: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly replayBatchMessages: number;
  readonly maxReplayBufferMessages: number;
  readonly maxConcurrentReplays: number;
}

/** Cross-field checks, run by loadConfig (`finish`) and again by toSubscriberConfig. */
export function checkSubscriberValues(v: Record<string, unknown>): void {
  if ((v.reconnectMinMs as number) > (v.reconnectMaxMs as number)) {
    throw new ConfigError('reconnectMinMs', 'must not exceed reconnectMaxMs');
  }
  const name = v.name as string;
  if (name.length === 0 || name.length > MAX_CONSUMER_NAME_LENGTH) {
    throw new ConfigError('name', `must be 1-${MAX_CONSUMER_NAME_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(v.queue as string);
  } catch {
    throw new ConfigError('queue', `not a URL: ${JSON.stringify(v.queue)}`);
  }
  if (url.protocol !== 'wss:') throw new ConfigError('queue', 'must be a wss:// URL (the link is always TLS)');
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError('queue', 'must not carry credentials; use --queue-user and WSQ_QUEUE_PASSWORD');
  }
  if ((v.queueUser === undefined) !== (v.queuePassword === undefined)) {
    throw new ConfigError(
      v.queueUser === undefined ? 'queueUser' : 'queuePassword',
      'queueUser and queuePassword go together',
    );
  }
}

function str(v: ConfigValues, key: string): string {
  return v[key] as string;
}
function int(v: ConfigValues, key: string): number {
  return v[key] as number;
}

/** The typed, frozen configuration. With --demo and no link credentials, the link uses the demo user. */
export function toSubscriberConfig(v: ConfigValues): SubscriberConfig {
  checkSubscriberValues(v as Record<string, unknown>);
  const demo = v.demo === true;
  const demoLink = demo && v.queueUser === undefined && v.queuePassword === undefined;
  return Object.freeze({
    host: str(v, 'host'),
    port: int(v, 'port'),
    cert: str(v, 'cert'),
    key: str(v, 'key'),
    ca: str(v, 'ca'),
    users: v.users as string | undefined,
    demo,
    logLevel: str(v, 'logLevel'),
    maxPayloadBytes: int(v, 'maxPayloadBytes'),
    maxBufferedBytes: int(v, 'maxBufferedBytes'),
    pingIntervalMs: int(v, 'pingIntervalMs'),
    allowedOrigins: Object.freeze([...((v.allowedOrigins as string[] | undefined) ?? [])]),
    maxConnections: int(v, 'maxConnections'),
    maxConnectionsPerUser: int(v, 'maxConnectionsPerUser'),
    handshakeTimeoutMs: int(v, 'handshakeTimeoutMs'),
    metricsAuth: v.metricsAuth === true,
    perMessageDeflate: v.perMessageDeflate === true,
    queue: str(v, 'queue'),
    queueUser: demoLink ? DEMO_USER : (v.queueUser as string | undefined),
    queuePassword: demoLink ? DEMO_PASSWORD : (v.queuePassword as string | undefined),
    insecure: v.insecure === true,
    reconnectMinMs: int(v, 'reconnectMinMs'),
    reconnectMaxMs: int(v, 'reconnectMaxMs'),
    name: str(v, 'name'),
    consumerWindow: int(v, 'consumerWindow'),
    maxSubscriptionsPerConnection: int(v, 'maxSubscriptionsPerConnection'),
    replayBatchMessages: int(v, 'replayBatchMessages'),
    maxReplayBufferMessages: int(v, 'maxReplayBufferMessages'),
    maxConcurrentReplays: int(v, 'maxConcurrentReplays'),
  });
}
