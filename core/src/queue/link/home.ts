/**
 * The link home of the queue: publisher and subscriber reach the msgqueue service over
 * `wsq.link.v3` on /pushmsg and /popmsg, verifying its TLS certificate against --ca unless
 * --insecure says otherwise.
 */
import type { LinkConfig } from '../../config/service-config.js';
import { readPem } from '../../front/tls.js';
import type { Logger } from '../../observe/log.js';
import type { QueueHome } from '../queue.js';
import { createQueueConsumer } from './queue-consumer.js';
import { createQueueProducer } from './queue-producer.js';

export interface LinkHomeConfig extends LinkConfig {
  /** PEM file of the CA that signed the msgqueue's certificate. */
  readonly ca: string;
  readonly pingIntervalMs: number;
}

/**
 * The CA is read when a side is first opened (before the service listens), so an unreadable
 * one is a configuration error naming `ca`, reported after the service's own certificate.
 */
export function linkQueueHome(config: LinkHomeConfig, log: Logger): QueueHome {
  if (config.insecure) {
    log.warn(
      '*** --insecure: the msgqueue TLS certificate is NOT verified; anyone on the path can read and forge messages. Testing only. ***',
    );
  }
  if (config.queueUser === undefined)
    log.warn('no --queue-user: the msgqueue link has no credentials and will likely be refused');
  let ca: Buffer | undefined;
  const link = () => ({
    url: config.queue,
    user: config.queueUser,
    password: config.queuePassword,
    ca: (ca ??= readPem('ca', config.ca, !config.insecure) ?? Buffer.alloc(0)),
    insecure: config.insecure,
    pingIntervalMs: config.pingIntervalMs,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    log,
  });
  return {
    where: config.queue,
    producer: (hooks) => createQueueProducer({ ...link(), ...hooks }),
    consumer: (hooks) => createQueueConsumer({ ...link(), ...hooks }),
  };
}
