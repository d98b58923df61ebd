/**
 * The msgqueue's own Prometheus series. Gauges that describe the log (size, head, consumer
 * lag) are computed when /metrics is scraped, so they are never stale and cost nothing
 * between scrapes.
 */
import { LATENCY_BUCKETS, type BaseMetrics, type TallyCell } from '@wsq/core';
import type { Counter, Histogram } from 'prom-client';

export interface QueueMetrics {
  appended: TallyCell;
  deduplicated: Counter;
  appendDuration: Histogram;
  /** Durable consumers deleted, by reason: `expired` (--consumer-ttl-ms) or `admin` (the admin API). */
  consumersDeleted: Counter<'reason'>;
}

/** What the scrape-time gauges read. */
export interface QueueView {
  firstSeq(): number;
  lastSeq(): number;
  /** Bytes of the retained journal segments on disk. */
  logBytes(): number;
  /** Durable consumer names with their acknowledged seq. */
  cursors(): Iterable<readonly [name: string, acked: number]>;
}

export function createQueueMetrics(base: BaseMetrics, view: QueueView): QueueMetrics {
  base.gauge('wsq_queue_log_messages', 'Messages retained in the journal', [], (g) =>
    g.set(Math.max(0, view.lastSeq() - view.firstSeq() + 1)),
  );
  base.gauge('wsq_queue_log_bytes', 'Bytes of the journal on disk (what --retain-bytes bounds)', [], (g) =>
    g.set(view.logBytes()),
  );
  base.gauge('wsq_queue_first_seq', 'Oldest seq retained in the journal (newest + 1 when empty)', [], (g) =>
    g.set(view.firstSeq()),
  );
  base.gauge('wsq_queue_last_seq', 'Newest seq in the journal', [], (g) => g.set(view.lastSeq()));
  base.gauge(
    'wsq_queue_consumer_lag_messages',
    'Messages not yet acknowledged by a durable consumer',
    ['consumer'],
    (g) => {
      g.reset();
      const last = view.lastSeq();
      for (const [name, acked] of view.cursors()) g.set({ consumer: name }, Math.max(0, last - acked));
    },
  );
  base.gauge('wsq_queue_consumers', 'Durable consumers (cursors) the queue keeps, attached or not', [], (g) => {
    let n = 0;
    for (const _ of view.cursors()) n++;
    g.set(n);
  });
  const consumersDeleted = base.counter<'reason'>(
    'wsq_queue_consumers_deleted_total',
    'Durable consumers deleted, by reason: expired (unattached for --consumer-ttl-ms) or admin (DELETE /v1/consumers/NAME)',
    ['reason'],
  );
  for (const reason of ['expired', 'admin']) consumersDeleted.inc({ reason }, 0);
  return {
    consumersDeleted,
    appended: base.tally('wsq_queue_appended_total', 'Messages appended to the journal'),
    deduplicated: base.counter(
      'wsq_queue_deduplicated_total',
      'Appended items answered with the original seq of their producer id',
    ),
    // Observed per append call (one per link frame, a batch at high rates).
    appendDuration: base.histogram('wsq_queue_append_duration_seconds', 'Time from append to journal commit', [
      ...LATENCY_BUCKETS,
    ]),
  };
}
