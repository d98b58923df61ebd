/**
 * wsq-server's options: the union of the msgqueue's, the publisher's and the subscriber's,
 * with the same names and defaults, derived from their option tables so the four never
 * drift. `--port` becomes `--queue-port`, `--publish-port` and `--subscribe-port`; the link
 * options (--queue, --queue-user, …) do not apply, as there is no link between the parts.
 */
import { LINK_OPTIONS, type ConfigValues, type OptionSpec } from '@wsq/core';
import { OPTIONS as MSGQUEUE_OPTIONS, toConfig as toMsgqueueConfig, type MsgqueueConfig } from '@wsq/msgqueue';
import {
  OPTIONS as PUBLISHER_OPTIONS,
  DEFAULT_PORT as PUBLISHER_PORT,
  toPublisherConfig,
  type PublisherConfig,
} from '@wsq/publisher';
import {
  OPTIONS as SUBSCRIBER_OPTIONS,
  SUBSCRIBER_PORT,
  checkSubscriberValues,
  toSubscriberConfig,
  type SubscriberConfig,
} from '@wsq/subscriber';

export const QUEUE_PORT = 8080;

/** The three ports, in place of each service's `port`. */
const PORT_OPTIONS: OptionSpec[] = [
  portOption('queuePort', QUEUE_PORT, '/pushmsg and /popmsg (outside publishers and subscribers, ws-go included)'),
  portOption('publishPort', PUBLISHER_PORT, '/publish'),
  portOption('subscribePort', SUBSCRIBER_PORT, '/subscribe'),
];

function portOption(key: string, port: number, what: string): OptionSpec {
  return { key, type: 'int', default: port, min: 0, max: 65535, help: `port of ${what} (0: any free port)` };
}

/** Options of the link between services: meaningless in one process. */
const NOT_HERE = new Set(['port', ...LINK_OPTIONS.map((o) => o.key)]);

/**
 * The union of the services' tables, in their order (msgqueue's first), each key once. A key
 * two services both take must mean the same there (same type and default): a test keeps it so.
 */
export function unionOptions(tables: readonly (readonly OptionSpec[])[]): OptionSpec[] {
  const seen = new Map<string, OptionSpec>();
  for (const table of tables) {
    for (const spec of table) {
      if (NOT_HERE.has(spec.key)) continue;
      const known = seen.get(spec.key);
      if (!known) seen.set(spec.key, spec);
      else if (known.type !== spec.type || JSON.stringify(known.default) !== JSON.stringify(spec.default))
        throw new Error(`option ${spec.key} differs between the services`);
    }
  }
  return [...PORT_OPTIONS, ...seen.values()];
}

export const OPTIONS: readonly OptionSpec[] = unionOptions([MSGQUEUE_OPTIONS, PUBLISHER_OPTIONS, SUBSCRIBER_OPTIONS]);

export interface ServerConfig {
  readonly msgqueue: MsgqueueConfig;
  readonly publisher: PublisherConfig;
  readonly subscriber: SubscriberConfig;
}

/** Cross-field checks, run by loadConfig before the values are frozen (the subscriber's, the msgqueue's). */
export function checkServerValues(values: Record<string, unknown>): void {
  const v = serviceValues(values as ConfigValues, SUBSCRIBER_OPTIONS, 'subscribePort');
  checkSubscriberValues(v as Record<string, unknown>);
  toMsgqueueConfig(serviceValues(values as ConfigValues, MSGQUEUE_OPTIONS, 'queuePort'));
}

/** One service's values: the shared ones, its port, and its own defaults for the link options. */
function serviceValues(values: ConfigValues, specs: readonly OptionSpec[], portKey: string): ConfigValues {
  const out: Record<string, unknown> = {};
  for (const spec of specs) out[spec.key] = spec.key in values ? values[spec.key] : spec.default;
  out.port = values[portKey];
  return Object.freeze(out) as ConfigValues;
}

/** The three services' typed, frozen configurations. */
export function toServerConfig(values: ConfigValues): ServerConfig {
  return Object.freeze({
    msgqueue: toMsgqueueConfig(serviceValues(values, MSGQUEUE_OPTIONS, 'queuePort')),
    publisher: toPublisherConfig(serviceValues(values, PUBLISHER_OPTIONS, 'publishPort')),
    subscriber: toSubscriberConfig(serviceValues(values, SUBSCRIBER_OPTIONS, 'subscribePort')),
  });
}
