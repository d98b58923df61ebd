/**
 * The embedded home of the queue (DESIGN section 5): publisher and subscriber in the same
 * process as the msgqueue's journal, with in-process calls in place of the link. wsq-server
 * opens the store once, serves /pushmsg and /popmsg from it and hands this home to its
 * publisher and subscriber. Its sides are 'up' while the journal is open: readiness does not
 * depend on any link.
 */
import { MAX_PENDING_REPLAYS, type Logger, type QueueHome } from '@wsq/core';
import type { QueueStore } from '../store.js';
import { createEmbeddedConsumer } from './consumer.js';
import { createEmbeddedProducer } from './producer.js';

export interface EmbeddedHomeOptions {
  /** Backoff after the journal refused an append for now, or failed a read (default 100 ms .. 10 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export const EMBEDDED_WHERE = 'embedded';

export function embeddedQueueHome(store: QueueStore, log: Logger, opts: EmbeddedHomeOptions = {}): QueueHome {
  const retry = { retryMinMs: opts.retryMinMs ?? 100, retryMaxMs: opts.retryMaxMs ?? 10_000 };
  const homeLog = log.child({ queue: EMBEDDED_WHERE });
  return {
    where: EMBEDDED_WHERE,
    producer: (hooks) => createEmbeddedProducer(store, hooks, retry, homeLog.child({ component: 'queue-producer' })),
    consumer: (hooks) =>
      createEmbeddedConsumer(store, hooks, { ...retry, maxPendingReplays: MAX_PENDING_REPLAYS }, homeLog),
  };
}
