/**
 * The one place the queue's home is chosen from --queue: wss:// is the msgqueue link,
 * nats:// and tls:// (a comma-separated list of servers) are NATS JetStream.
 */
import type { JetStreamConfig, LinkConfig } from '../config/service-config.js';
import { isNatsQueue } from '../config/service-config.js';
import type { BaseMetrics } from '../observe/metrics.js';
import type { Logger } from '../observe/log.js';
import { linkQueueHome, type LinkHomeConfig } from './link/home.js';
import { jetstreamQueueHome } from './jetstream/home.js';
import type { QueueHome } from './queue.js';

export type QueueHomeConfig = LinkHomeConfig & LinkConfig & Partial<JetStreamConfig>;

export interface OpenQueueHomeOptions {
  /** The service's registry, for the JetStream home's connection and lag metrics. */
  metrics?: BaseMetrics;
  /** The service's name, shown by the NATS server for its connection. */
  service?: string;
}

export function openQueueHome(config: QueueHomeConfig, log: Logger, opts: OpenQueueHomeOptions = {}): QueueHome {
  if (!isNatsQueue(config.queue)) return linkQueueHome(config, log);
  const need = <K extends keyof JetStreamConfig>(k: K): JetStreamConfig[K] => {
    const v = config[k];
    if (v === undefined) throw new Error(`JetStream queue: ${k} missing from the configuration`);
    return v as JetStreamConfig[K];
  };
  return jetstreamQueueHome(
    {
      queue: config.queue,
      queueUser: config.queueUser,
      queuePassword: config.queuePassword,
      queueToken: config.queueToken,
      ca: config.ca,
      insecure: config.insecure,
      reconnectMinMs: config.reconnectMinMs,
      reconnectMaxMs: config.reconnectMaxMs,
      pingIntervalMs: config.pingIntervalMs,
      stream: need('stream'),
      streamReplicas: need('streamReplicas'),
      retainMessages: need('retainMessages'),
      retainBytes: need('retainBytes'),
      retainMs: need('retainMs'),
      dedupeWindowMs: need('dedupeWindowMs'),
      consumerTtlMs: config.consumerTtlMs ?? 7 * 24 * 60 * 60 * 1000,
    },
    log,
    { metrics: opts.metrics, connectionName: opts.service === undefined ? 'wsq' : `wsq-${opts.service}` },
  );
}
