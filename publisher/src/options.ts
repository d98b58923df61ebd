/**
 * The publisher's options: the common ones, the msgqueue link, the outbox that holds messages
 * while the msgqueue is away, and the per-connection publish rate. Parsed and validated once
 * by core/config; `finishOptions` does the cross-field checks, `toPublisherConfig` types it.
 */
import {
  ConfigError,
  checkLinkValues,
  toCommonConfig,
  toLinkConfig,
  toJetStreamConfig,
  isNatsQueue,
  type CommonConfig,
  type JetStreamConfig,
  type LinkConfig,
  DEMO_PASSWORD,
  DEMO_USER,
  LINK_OPTIONS,
  JETSTREAM_OPTIONS,
  commonOptions,
  resolveValues,
  type ConfigValues,
  type OptionSpec,
} from '@wsq/core';

export const DEFAULT_PORT = 8081;

export const OPTIONS: readonly OptionSpec[] = [
  ...commonOptions(DEFAULT_PORT),
  ...LINK_OPTIONS,
  ...JETSTREAM_OPTIONS.filter((o) => o.key !== 'consumerTtlMs'),
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
    key: 'queueLingerMs',
    type: 'int',
    default: 0,
    min: 0,
    max: 1000,
    unit: 'ms',
    help: 'how long a message may wait for others before it is sent to the queue: 0 sends at the end of the event-loop turn; 1–5 trade that much latency for fewer writes per message on every hop at moderate rates',
  },
  {
    key: 'publishRatePerSec',
    type: 'int',
    default: 1000,
    min: 1,
    unit: 'messages/s',
    help: 'sustained publish rate per WebSocket connection, and per user for POST /v1/messages (token bucket); faster gets RATE_LIMITED',
  },
  {
    key: 'publishBurst',
    type: 'int',
    default: 2000,
    min: 1,
    unit: 'messages',
    help: 'publish burst above the sustained rate (per connection; per user over HTTP)',
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

export interface PublisherConfig extends CommonConfig, LinkConfig, JetStreamConfig {
  readonly outboxMessages: number;
  readonly queueLingerMs: number;
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
  if (
    values.demo === true &&
    values.queueUser === undefined &&
    values.queuePassword === undefined &&
    !isNatsQueue(String(values.queue))
  ) {
    values.queueUser = DEMO_USER;
    values.queuePassword = DEMO_PASSWORD;
  }
  if ((values.reconnectMaxMs as number) < (values.reconnectMinMs as number)) {
    throw new ConfigError('reconnectMaxMs', 'must be >= reconnectMinMs');
  }
  checkLinkValues(values);
}

/** The typed, frozen config. `values` come from loadConfig (or a test building them by hand). */
export function toPublisherConfig(values: ConfigValues): PublisherConfig {
  const v = values as Record<string, unknown>;
  return Object.freeze({
    ...toCommonConfig(values),
    ...toLinkConfig(values),
    ...toJetStreamConfig(values),
    outboxMessages: v.outboxMessages as number,
    queueLingerMs: v.queueLingerMs as number,
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
