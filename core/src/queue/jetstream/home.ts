/**
 * The JetStream home of the queue (DESIGN section 5): publisher and subscriber on a NATS
 * JetStream stream. The home opens one NATS connection, when its first side is opened, and
 * closes it with its last side.
 */
import { readPem } from '../../front/tls.js';
import type { BaseMetrics } from '../../observe/metrics.js';
import type { Logger } from '../../observe/log.js';
import type { QueueHome } from '../queue.js';
import { createJetStreamConsumer, type JetStreamConsumer } from './consumer.js';
import { createJetStreamProducer } from './producer.js';
import { createSession, type Session } from './session.js';
import type { StreamSettings } from './stream-config.js';

export interface JetStreamHomeConfig extends StreamSettings {
  /** Comma-separated nats:// or tls:// URLs (--queue). */
  readonly queue: string;
  readonly queueUser: string | undefined;
  readonly queuePassword: string | undefined;
  readonly queueToken: string | undefined;
  /** PEM file of the CA that verifies NATS's TLS (tls:// URLs). */
  readonly ca: string;
  readonly insecure: boolean;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly pingIntervalMs: number;
  /** A durable consumer unused this long is deleted by the server (subscriber). */
  readonly consumerTtlMs: number;
}

export interface JetStreamHomeOptions {
  /** Where the NATS connection state and the consumer lag are exported. */
  metrics?: BaseMetrics;
  /** The connection's name on the NATS server (default wsq). */
  connectionName?: string;
  /** How long a publish waits for its PubAck (default 2000 ms). */
  publishTimeoutMs?: number;
}

/** The URLs of a --queue list. */
export function natsServers(queue: string): string[] {
  return queue
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export interface JetStreamHome extends QueueHome {
  consumer(...args: Parameters<QueueHome['consumer']>): JetStreamConsumer;
}

export function jetstreamQueueHome(
  config: JetStreamHomeConfig,
  log: Logger,
  options: JetStreamHomeOptions = {},
): JetStreamHome {
  const servers = natsServers(config.queue);
  if (config.insecure && servers.some((s) => s.startsWith('tls://'))) {
    log.warn(
      '*** --insecure: the NATS TLS certificate is NOT verified; anyone on the path can read and forge messages. Testing only. ***',
    );
  }
  const m = options.metrics;
  const connected = m?.gauge('wsq_queue_nats_connected', '1 while the NATS connection of the JetStream queue is open');
  const reconnects = m?.counter(
    'wsq_queue_nats_reconnects_total',
    'Reconnects of the NATS connection of the JetStream queue',
  );
  // The msgqueue's name for the same thing, so one dashboard serves both homes.
  const lag = m?.gauge(
    'wsq_queue_consumer_lag_messages',
    "Stream messages not yet delivered to each durable consumer (this subscriber's --name)",
    ['consumer'],
  );
  let session: Session | undefined;
  let users = 0;

  function open(): Session {
    users++;
    session ??= createSession({
      ...config,
      servers,
      user: config.queueUser,
      password: config.queuePassword,
      token: config.queueToken,
      ca: servers.some((s) => s.startsWith('tls://')) ? readPem('ca', config.ca, !config.insecure) : undefined,
      connectionName: options.connectionName ?? 'wsq',
      log,
      onConnection(up, reconnected) {
        connected?.set(up ? 1 : 0);
        if (reconnected) reconnects?.inc();
      },
    });
    return session;
  }

  async function release(): Promise<void> {
    if (--users > 0 || !session) return;
    const s = session;
    session = undefined;
    await s.close();
  }

  /** The side as it is, but for a close() that also gives up its hold on the session, once. */
  function releasingOnClose<T extends { close(): Promise<void> }>(side: T): T {
    let released = false;
    return Object.assign(Object.create(side) as T, {
      async close() {
        await side.close();
        if (!released) {
          released = true;
          await release();
        }
      },
    });
  }

  return {
    where: servers.join(','),
    producer(hooks) {
      const p = createJetStreamProducer(open(), {
        ...hooks,
        log,
        reconnectMinMs: config.reconnectMinMs,
        reconnectMaxMs: config.reconnectMaxMs,
        publishTimeoutMs: options.publishTimeoutMs,
      });
      return releasingOnClose(p);
    },
    consumer(hooks) {
      const c = createJetStreamConsumer(open(), {
        ...hooks,
        log,
        consumerTtlMs: config.consumerTtlMs,
        reconnectMinMs: config.reconnectMinMs,
        reconnectMaxMs: config.reconnectMaxMs,
        onLag: (n) => lag?.set({ consumer: hooks.name }, n),
      });
      return releasingOnClose(c);
    },
  };
}
