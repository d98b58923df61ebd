/**
 * The embedded home's QueueProducer: messages offered in one event-loop turn go to the
 * journal together, through the msgqueue's one append path (dedupe by pid, one
 * journal.append per batch), with no link, no encoding and no copy in between.
 *
 * The guarantees are the link home's: `done` is called only once the journal append
 * resolved (after the fsync with --fsync always); the outbox (messages offered and not yet
 * journaled) is bounded and refuses with UNAVAILABLE past it; a refusal the queue may lift
 * later (an overloaded or failing disk) keeps the messages and tries again after a backoff,
 * in order; other refusals (TOO_LARGE) settle the batch with their code.
 */
import {
  createBackoff,
  isValidTopic,
  Outbox,
  ProtocolError,
  appendByOffer,
  turnNow,
  SendSchedule,
  FULL_BATCH_MESSAGES,
  type AppendDone,
  type AppendRequest,
  type LinkState,
  type Logger,
  type ProducerHooks,
  type QueueProducer,
} from '@wsq/core';
import type { AppendInput } from '../journal/journal.js';
import { errorCodeOf } from '../links/link-frames.js';
import type { QueueStore } from '../store.js';

/** One offered message; it is its own append item (no second object per message). */
interface Entry extends AppendInput {
  bytes: number;
  acceptedAt: number;
  done: AppendDone<unknown>;
  ctx: unknown;
}

export interface EmbeddedProducerOptions {
  /** Backoff between retries of a batch the journal refused for now (JOURNAL_OVERLOADED, JOURNAL_IO). */
  retryMinMs: number;
  retryMaxMs: number;
}

const RETRYABLE = new Set(['UNAVAILABLE', 'INTERNAL']);
const OUTBOX_FULL = new ProtocolError('UNAVAILABLE', 'the queue outbox is full');
const CLOSED = new ProtocolError('UNAVAILABLE', 'the queue producer is closed');
const BAD_TOPIC = new ProtocolError('BAD_TOPIC', 'not a topic the queue can carry');

export function createEmbeddedProducer(
  store: QueueStore,
  hooks: ProducerHooks,
  opts: EmbeddedProducerOptions,
  log: Logger,
): QueueProducer {
  const { onJournaled } = hooks;
  const backoff = createBackoff(opts.retryMinMs, opts.retryMaxMs);
  /** Offered and not yet handed to the journal, in offer order. */
  let waiting: Entry[] = [];
  const outbox = new Outbox(hooks, log, 'the journal');
  let closed = false;
  /** A batch the journal refused for now: it goes again before anything newer. */
  let retrying = false;
  let lastTopic: string | undefined;
  const schedule = new SendSchedule(hooks.lingerMs ?? 0, () => flush());
  let retryTimer: NodeJS.Timeout | undefined;
  let state: LinkState = store.open ? 'up' : 'closed';

  function setState(next: LinkState, detail?: string): void {
    if (state === next) return;
    state = next;
    hooks.onState?.(next, detail);
  }

  function settled(batch: Entry[]): void {
    for (const e of batch) outbox.release(e.bytes);
    outbox.changed();
  }

  function flush(): void {
    if (retrying || waiting.length === 0) return;
    const batch = waiting;
    waiting = [];
    appendBatch(batch);
  }

  function appendBatch(batch: Entry[]): void {
    store.appender.append(batch).then(
      (seqs) => {
        backoff.reset();
        setState('up');
        const now = performance.now();
        settled(batch);
        for (let i = 0; i < batch.length; i++) {
          const e = batch[i];
          onJournaled?.(e.acceptedAt, now);
          e.done(e.ctx, undefined, seqs[i]);
        }
      },
      (err: unknown) => refused(batch, err),
    );
  }

  function refused(batch: Entry[], err: unknown): void {
    const code = errorCodeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    if (RETRYABLE.has(code) && !closed && store.open) {
      // Keep the batch first in line; newer offers wait behind it (order is seq order).
      log.warn({ code, message, messages: batch.length }, 'the journal refused an append for now; retrying');
      setState('down', message);
      retrying = true;
      waiting = batch.concat(waiting);
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        retrying = false;
        flush();
      }, backoff.next());
      return;
    }
    if (code === 'INTERNAL') log.error({ err, messages: batch.length }, 'append failed');
    else log.warn({ code, messages: batch.length }, 'the journal refused an append batch');
    settled(batch);
    const refusal = new ProtocolError(code, message);
    for (const e of batch) e.done(e.ctx, refusal, 0);
  }

  function offer<C>(msg: AppendRequest, done: AppendDone<C>, ctx: C): ProtocolError | undefined {
    if (closed || !store.open) return CLOSED;
    if (msg.topic !== lastTopic) {
      if (!isValidTopic(msg.topic)) return BAD_TOPIC;
      lastTopic = msg.topic;
    }
    const pid = msg.pid;
    const size = Buffer.byteLength(msg.data) + msg.topic.length + (pid === undefined ? 0 : pid.length);
    if (!outbox.take(size)) return OUTBOX_FULL;
    waiting.push({
      topic: msg.topic,
      data: msg.data,
      ts: msg.ts,
      pid,
      bytes: size,
      acceptedAt: turnNow(),
      done: done as AppendDone<unknown>,
      ctx,
    });
    schedule.offered(waiting.length >= FULL_BATCH_MESSAGES);
    outbox.changed();
    return undefined;
  }

  hooks.onState?.(state);
  return {
    get state() {
      return closed ? 'closed' : store.open ? state : 'closed';
    },
    get outboxDepth() {
      return outbox.depth;
    },
    offer,
    append: (msg) => appendByOffer(offer, msg),
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      schedule.cancel();
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      // Appends already handed to the journal settle on their own; the ones still waiting never will.
      const left = waiting;
      waiting = [];
      settled(left);
      const err = new ProtocolError('UNAVAILABLE', 'the queue producer closed before the journal took the message');
      for (const e of left) e.done(e.ctx, err, 0);
      hooks.onState?.('closed');
      return Promise.resolve();
    },
  };
}
