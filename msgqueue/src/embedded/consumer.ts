/**
 * The embedded home's QueueConsumer: a durable cursor read straight from the journal's tail.
 *
 * It is a consumer of the ConsumerHub like the /popmsg links (an append wakes it; a newer
 * consumer of the same name replaces it), resumes after its durable cursor (consumers/
 * cursors.ts), hands out at most `window` unacknowledged messages, and `ack(seq)` moves the
 * cursor. Messages come from the tail cache without a Promise per batch while it keeps up,
 * from the segment files otherwise; the decoded messages are handed over as they are.
 * Retention that deleted messages before they were read is counted and logged as drops, as
 * on the link; replay() is the link's range replay (links/replay.ts).
 */
import {
  createBackoff,
  ProtocolError,
  type ConsumerHooks,
  type LinkState,
  type Logger,
  type QueueConsumer,
  type QueueMessage,
  type ReplayResult,
} from '@wsq/core';
import type { ConsumerSession } from '../consumers/hub.js';
import { Unacked } from '../consumers/unacked.js';
import { cursorAllowed, resumePoint } from '../links/queue-context.js';
import { errorCodeOf } from '../links/link-frames.js';
import { replayRange } from '../links/replay.js';
import type { QueueStore } from '../store.js';

export interface EmbeddedConsumerOptions {
  /** Replays running at once; more are refused with LIMIT_EXCEEDED (as on the link). */
  maxPendingReplays: number;
  /** Backoff between attempts after a failed journal read. */
  retryMinMs: number;
  retryMaxMs: number;
}

export function createEmbeddedConsumer(
  store: QueueStore,
  hooks: ConsumerHooks,
  opts: EmbeddedConsumerOptions,
  parentLog: Logger,
): QueueConsumer {
  const { journal, cursors, hub, config, metrics } = store;
  const { name } = hooks;
  const log = parentLog.child({ component: 'queue-consumer', consumer: name });
  const window = Math.min(hooks.window, config.maxConsumerWindowMessages);
  const backoff = createBackoff(opts.retryMinMs, opts.retryMaxMs);
  const unacked = new Unacked();
  let onMessages: ((batch: QueueMessage[]) => void) | undefined;
  let state: LinkState = 'connecting';
  let lastSeq = 0;
  let acked = 0;
  /** The next seq to read. */
  let next = 1;
  let running = false;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let replays = 0;

  function setState(s: LinkState, detail?: string): void {
    if (state === s) return;
    state = s;
    hooks.onState?.(s, detail);
  }

  const session: ConsumerSession = {
    name,
    next: () => next,
    wake,
    replaced() {
      stop();
      metrics.closes.inc({ reason: 'consumer_replaced' });
      log.info('consumer replaced by a newer connection');
      setState('down', 'consumer replaced');
    },
  };

  function stop(): void {
    stopped = true;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = undefined;
  }

  function attach(): void {
    if (!store.open) return setState('closed');
    if (!cursorAllowed(store, name)) {
      log.error({ maxConsumers: config.maxConsumers }, 'too many durable consumers; cannot consume');
      return setState('down', 'LIMIT_EXCEEDED');
    }
    const resume = resumePoint(store, name, log);
    acked = resume.acked;
    next = resume.next;
    lastSeq = journal.lastSeq;
    log.info({ next, window }, 'consumer attached');
    hub.attach(session);
    setState('up');
    wake();
  }

  function skipTo(seq: number): void {
    metrics.drops.inc({ reason: 'retention' }, seq - next);
    log.warn({ expected: next, got: seq }, 'retention deleted messages before this consumer read them');
    next = seq;
  }

  function hand(batch: QueueMessage[]): void {
    const last = batch[batch.length - 1].seq;
    for (const m of batch) unacked.push(m.seq);
    next = last + 1;
    if (last > lastSeq) lastSeq = last;
    try {
      onMessages?.(batch);
    } catch (err) {
      log.error({ err }, 'onMessages threw; the batch counts as handed over');
    }
  }

  /** Reads while there is credit and something to read; a no-op while already reading. */
  function wake(): void {
    if (running || stopped || retryTimer || !onMessages) return;
    running = true;
    void run();
  }

  // Every exit condition is re-checked after each await and each hand-over (which may ack and
  // wake us: that wake returns early, and the loop sees the new credit).
  async function run(): Promise<void> {
    try {
      while (!stopped) {
        const credit = window - unacked.count;
        if (credit <= 0) return;
        if (next < journal.firstSeq) skipTo(journal.firstSeq);
        if (next > journal.lastSeq) return;
        const max = Math.min(credit, config.consumerBatchMessages);
        let msgs = journal.readCached(next, max, config.consumerBatchBytes);
        if (msgs === undefined) {
          msgs = await journal.read(next, max, config.consumerBatchBytes);
          if (stopped) return;
        }
        if (msgs.length === 0) return; // retention raced the read; the next wake retries
        if (msgs[0].seq > next) skipTo(msgs[0].seq);
        hand(msgs);
      }
    } catch (err) {
      if (stopped) return;
      const delay = backoff.next();
      log.error({ err, retryInMs: delay }, 'reading the journal failed; retrying');
      metrics.closes.inc({ reason: 'internal' });
      setState('down', 'journal read failed');
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        setState('up');
        wake();
      }, delay);
    } finally {
      running = false;
    }
  }

  return {
    get state() {
      return store.open ? state : 'closed';
    },
    get lastSeq() {
      return lastSeq;
    },
    start(cb) {
      if (onMessages) throw new Error('queue consumer already started');
      onMessages = cb;
      attach();
    },
    ack(seq) {
      if (stopped || seq <= acked) return;
      // Never past what was handed out (the link refuses such an ack).
      const through = Math.min(seq, next - 1);
      if (through <= acked) return;
      acked = through;
      try {
        cursors.set(name, through);
      } catch (err) {
        log.error({ err, seq: through }, 'the cursor could not be moved');
        return;
      }
      unacked.ackThrough(through);
      backoff.reset();
      wake();
    },
    seqAtTime(ms) {
      if (stopped || !store.open)
        return Promise.reject(new ProtocolError('UNAVAILABLE', 'the queue consumer is closed'));
      // The journal's time index: at most one segment file is read, whatever the log's length.
      return journal.seqAtTime(ms);
    },
    async replay(from, to, pattern, limit): Promise<ReplayResult> {
      if (stopped || !store.open) throw new ProtocolError('UNAVAILABLE', 'the queue consumer is closed');
      if (replays >= opts.maxPendingReplays) throw new ProtocolError('LIMIT_EXCEEDED', 'too many replays in flight');
      replays++;
      try {
        const answer = await replayRange(
          journal,
          { from, to, pattern, limit },
          {
            scanMessages: config.replayScanLimit,
            batchBytes: config.replayBatchBytes,
            readBatchMessages: config.consumerBatchMessages,
          },
        );
        return { messages: answer.msgs, firstSeq: answer.first, more: answer.more, next: answer.next };
      } catch (err) {
        if (err instanceof ProtocolError) throw err;
        if (errorCodeOf(err) === 'INTERNAL') log.error({ err }, 'replay failed');
        throw new ProtocolError(errorCodeOf(err), err instanceof Error ? err.message : String(err));
      } finally {
        replays--;
      }
    },
    close() {
      if (!stopped) stop();
      hub.detach(session);
      setState('closed');
      return Promise.resolve();
    },
  };
}
