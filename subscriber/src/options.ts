/**
 * The subscriber's options: the common ones (port 8082), the msgqueue link, and its own
 * limits. Values are validated field by field by core/config, across fields here, then
 * converted once into a frozen, typed SubscriberConfig.
 */
import {
  ConfigError,
  checkLinkValues,
  toCommonConfig,
  toLinkConfig,
  toJetStreamConfig,
  type CommonConfig,
  type JetStreamConfig,
  type LinkConfig,
  LINK_OPTIONS,
  JETSTREAM_OPTIONS,
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

export const OPTIONS: readonly OptionSpec[] = [
  ...commonOptions(SUBSCRIBER_PORT),
  ...LINK_OPTIONS,
  ...JETSTREAM_OPTIONS,
  ...OWN_OPTIONS,
];

export interface SubscriberConfig extends CommonConfig, LinkConfig, JetStreamConfig {
  readonly logLevel: string;
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
  checkLinkValues(v);
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
  return Object.freeze({
    ...toCommonConfig(v),
    ...toLinkConfig(v),
    ...toJetStreamConfig(v),
    logLevel: str(v, 'logLevel'),
    name: str(v, 'name'),
    consumerWindow: int(v, 'consumerWindow'),
    maxSubscriptionsPerConnection: int(v, 'maxSubscriptionsPerConnection'),
    replayBatchMessages: int(v, 'replayBatchMessages'),
    maxReplayBufferMessages: int(v, 'maxReplayBufferMessages'),
    maxConcurrentReplays: int(v, 'maxConcurrentReplays'),
  });
}
