/**
 * The msgqueue's storage, opened once: the data directory, the journal, the consumer cursors,
 * the dedupe index (rebuilt from the journal), the consumer hub, the one append path and the
 * queue metrics. The msgqueue service serves its links from it; wsq-server hands the same
 * store to the service and to the embedded home, so both write and read one journal.
 */
import { join } from 'node:path';
import { MAX_CONSUMER_NAME_LENGTH, type BaseMetrics, type Logger } from '@wsq/core';
import { createAppender } from './dedupe/appender.js';
import { openCursorStore, type CursorStore } from './consumers/cursors.js';
import { prepareDataDir } from './data-dir.js';
import { createDedupeIndex, rebuildDedupe } from './dedupe/dedupe.js';
import { ConsumerHub } from './consumers/hub.js';
import { createConsumerLifecycle, type ConsumerLifecycle } from './consumers/lifecycle.js';
import { openJournal, type Journal } from './journal/journal.js';
import type { MsgqueueConfig } from './options.js';
import type { QueueContext } from './links/queue-context.js';
import { createQueueMetrics } from './queue-metrics.js';

export const JOURNAL_SUBDIR = 'journal';
export const CURSORS_SUBDIR = 'cursors';

export interface QueueStoreDeps {
  log: Logger;
  metrics: BaseMetrics;
  /** Clock for dedupe windows and consumer last-seen times (tests). */
  now?: () => number;
}

export interface QueueStore extends QueueContext {
  /** False once close() began: the embedded home reports 'closed' from then on. */
  readonly open: boolean;
  /** The durable consumers' expiry and admin view; its owner starts and stops the sweep. */
  readonly consumers: ConsumerLifecycle;
  /** Writes the cursors and fsyncs the journal. Idempotent; call it after the links are gone. */
  close(): Promise<void>;
}

export async function openQueueStore(config: MsgqueueConfig, deps: QueueStoreDeps): Promise<QueueStore> {
  const { log, metrics } = deps;
  const now = deps.now ?? Date.now;
  const owned: { journal?: Journal; cursors?: CursorStore } = {};
  const dedupe = createDedupeIndex({ windowMs: config.dedupeWindowMs, maxEntries: config.dedupeMaxEntries }, { now });
  let rebuilt: number;
  try {
    await prepareDataDir(config.dataDir, [CURSORS_SUBDIR, JOURNAL_SUBDIR]);
    owned.cursors = await openCursorStore(join(config.dataDir, CURSORS_SUBDIR), {
      maxConsumers: config.maxConsumers,
      flushIntervalMs: config.cursorFlushIntervalMs,
      maxNameBytes: MAX_CONSUMER_NAME_LENGTH * 4, // 128 characters of up to 4 UTF-8 bytes
      now,
    });
    // A consumer may have acknowledged seqs the journal lost (its unsynced tail, after a power
    // cut): they were handed out, so new messages start past the highest acknowledged one.
    let acked = 0;
    for (const [, seq] of owned.cursors.entries()) acked = Math.max(acked, seq);
    owned.journal = await openJournal(
      { dir: join(config.dataDir, JOURNAL_SUBDIR), ...config.journal, minNextSeq: acked + 1 },
      { now },
    );
    rebuilt = await rebuildDedupe(owned.journal, dedupe, now()); // dedupe survives restarts
  } catch (err) {
    await owned.cursors?.close().catch(() => undefined);
    await owned.journal?.close().catch(() => undefined);
    throw err;
  }
  const { journal, cursors } = owned as Required<typeof owned>;
  logRecovery(journal, log);

  const hub = new ConsumerHub((name) => {
    try {
      cursors.touch(name, now());
    } catch (err) {
      log.warn({ err, consumer: name }, 'consumer last-seen time not recorded');
    }
  });
  const queueMetrics = createQueueMetrics(metrics, {
    firstSeq: () => journal.firstSeq,
    lastSeq: () => journal.lastSeq,
    logBytes: () => journal.retainedBytes,
    cursors: () => cursors.entries(),
  });
  const consumers = createConsumerLifecycle({
    cursors,
    hub,
    journal,
    log,
    deleted: queueMetrics.consumersDeleted,
    now,
    ttlMs: config.consumerTtlMs,
  });
  const appender = createAppender({ journal, dedupe, metrics: queueMetrics, onAppended: () => hub.wakeAll() });
  log.info(
    {
      dataDir: config.dataDir,
      firstSeq: journal.firstSeq,
      lastSeq: journal.lastSeq,
      consumers: cursors.size,
      dedupeIds: rebuilt,
    },
    'journal open',
  );

  let closing: Promise<void> | undefined;
  return {
    config,
    journal,
    cursors,
    hub,
    appender,
    metrics,
    consumers,
    get open() {
      return closing === undefined;
    },
    close() {
      consumers.stop();
      closing ??= closeFiles(cursors, journal, log);
      return closing;
    },
  };
}

async function closeFiles(cursors: CursorStore, journal: Journal, log: Logger): Promise<void> {
  const results = await Promise.allSettled([cursors.close(), journal.close()]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    log.error({ err: failed.reason as unknown }, 'closing the data files failed');
    throw failed.reason;
  }
}

function logRecovery(journal: Journal, log: Logger): void {
  const { recovery } = journal;
  if (recovery.truncatedBytes > 0) {
    log.warn({ recovery, truncatedBytes: recovery.truncatedBytes }, 'journal recovery cut a torn tail');
  }
  if (recovery.skippedBytes > 0) {
    log.error(
      { recovery, skippedBytes: recovery.skippedBytes, salvagedRecords: recovery.salvagedRecords },
      'journal recovery found corrupt records: the damaged bytes are left on disk for inspection; valid records after them in the last segment were copied into new segments (salvagedRecords)',
    );
  }
  if (recovery.skippedSeqs > 0) {
    log.error(
      { recovery, skippedSeqs: recovery.skippedSeqs, nextSeq: journal.lastSeq + 1 },
      'journal recovery: seqs handed out before are not in the journal; new messages start after them',
    );
  }
}
