/**
 * The msgqueue service: a durable FIFO journal behind /pushmsg (producers) and /popmsg
 * (consumers), each speaking `wsq.link.v3` or, without a subprotocol, ws-go's legacy link.
 * Building it opens the data directory; listen() starts serving; close() ends every link
 * with 1001, then writes the cursors and fsyncs the journal.
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  CLOSE,
  createAuthenticator,
  createMetrics,
  createServiceServer,
  LINK_PROTOCOL,
  loadTlsFiles,
  MAX_CONSUMER_NAME_LENGTH,
  openapiDocument,
  type Authenticator,
  type BaseMetrics,
  type Logger,
  warnAboutUsers,
} from '@wsq/core';
import { createAppender } from './dedupe/appender.js';
import { serveConsumerLink } from './links/consumer-link.js';
import { openCursorStore, type CursorStore } from './consumers/cursors.js';
import { prepareDataDir } from './data-dir.js';
import { createDedupeIndex, rebuildDedupe } from './dedupe/dedupe.js';
import { ConsumerHub } from './consumers/hub.js';
import { openJournal, type Journal } from './journal/journal.js';
import { serveLegacyPop, serveLegacyPush } from './links/legacy-link.js';
import type { MsgqueueConfig } from './options.js';
import { serveProducerLink } from './links/producer-link.js';
import { POP_PATH, PUSH_PATH, type QueueContext } from './links/queue-context.js';
import { createQueueMetrics } from './queue-metrics.js';

export interface MsgqueueDeps {
  log: Logger;
  metrics?: BaseMetrics;
  /** Clock for dedupe windows (tests). */
  now?: () => number;
}

export interface Msgqueue {
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Re-reads the users file (SIGHUP). */
  reload(): void;
  readonly metrics: BaseMetrics;
}

export const JOURNAL_SUBDIR = 'journal';
export const CURSORS_SUBDIR = 'cursors';

export async function createMsgqueue(config: MsgqueueConfig, deps: MsgqueueDeps): Promise<Msgqueue> {
  const { log } = deps;
  const now = deps.now ?? Date.now;
  const tls = loadTlsFiles(config.tlsPaths, false);
  const metrics = deps.metrics ?? createMetrics('msgqueue');
  warnAboutUsers(log, config);
  const auth = await createAuthenticator({
    usersFile: config.users,
    demo: config.demo,
    onReloadError: (err) => log.error({ err: err.message }, 'users file reload failed; keeping the previous users'),
  });
  const owned: { journal?: Journal; cursors?: CursorStore } = {};
  const dedupe = createDedupeIndex({ windowMs: config.dedupeWindowMs, maxEntries: config.dedupeMaxEntries }, { now });
  let rebuilt: number;
  try {
    await prepareDataDir(config.dataDir, [CURSORS_SUBDIR, JOURNAL_SUBDIR]);
    owned.cursors = await openCursorStore(join(config.dataDir, CURSORS_SUBDIR), {
      maxConsumers: config.maxConsumers,
      flushIntervalMs: config.cursorFlushIntervalMs,
      maxNameBytes: MAX_CONSUMER_NAME_LENGTH * 4, // 128 characters of up to 4 UTF-8 bytes
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
    auth.close();
    await owned.cursors?.close().catch(() => undefined);
    await owned.journal?.close().catch(() => undefined);
    throw err;
  }
  const { journal, cursors } = owned as Required<typeof owned>;
  logRecovery(journal, log);

  const hub = new ConsumerHub();
  const queueMetrics = createQueueMetrics(metrics, {
    firstSeq: () => journal.firstSeq,
    lastSeq: () => journal.lastSeq,
    cursors: () => cursors.entries(),
  });
  const appender = createAppender({ journal, dedupe, metrics: queueMetrics, onAppended: () => hub.wakeAll() });
  const q: QueueContext = { config, journal, cursors, hub, appender, metrics };
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

  let listening = false;
  const server = createServiceServer({
    service: 'msgqueue',
    limits: config.limits,
    tls,
    auth,
    log,
    metrics,
    isReady: () => listening,
    openapi: openapiDocument(),
    routes: [
      {
        path: PUSH_PATH,
        protocols: [LINK_PROTOCOL],
        legacy: true,
        onConnection: (ws, ctx) =>
          ctx.protocol === LINK_PROTOCOL ? serveProducerLink(ws, ctx, q) : serveLegacyPush(ws, ctx, q),
      },
      {
        path: POP_PATH,
        protocols: [LINK_PROTOCOL],
        legacy: true,
        onConnection: (ws, ctx) =>
          ctx.protocol === LINK_PROTOCOL ? serveConsumerLink(ws, ctx, q) : serveLegacyPop(ws, ctx, q),
      },
    ],
  });

  let closing: Promise<void> | undefined;
  return {
    metrics,
    async listen() {
      const address = await server.listen();
      listening = true;
      return address;
    },
    close() {
      closing ??= shutdown(server.close.bind(server), auth, cursors, journal, log).finally(() => {
        listening = false;
      });
      return closing;
    },
    reload() {
      auth.reload();
    },
  };
}

async function shutdown(
  closeServer: (code: number) => Promise<void>,
  auth: Authenticator,
  cursors: CursorStore,
  journal: Journal,
  log: Logger,
): Promise<void> {
  // Links first (no new appends or acks), then the cursors, then the journal's final fsync.
  await closeServer(CLOSE.GOING_AWAY);
  auth.close();
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
