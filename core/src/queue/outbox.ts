/**
 * The bookkeeping of the bounded outbox every producer keeps, whatever home it talks to (the
 * link, JetStream, the embedded journal): how many messages and bytes wait for the queue,
 * whether one more fits, settling a message with its seq or its refusal, and the hooks told
 * when the depth changes. A full outbox is said once when it starts refusing and once when it
 * has room again, not once per refused message. Where the messages wait, and in what order
 * they are sent, stays with each producer.
 */
import type { ProtocolError } from '../protocol/errors.js';
import type { Logger } from '../observe/log.js';
import type { AppendDone, AppendRequest, ProducerHooks, QueueProducer } from './queue.js';

/** What the outbox needs of a waiting message. */
export interface OutboxEntry {
  /** What it counts for against outboxBytes. */
  bytes: number;
  /** turnNow() when it was offered. */
  acceptedAt: number;
  /** Cleared once settled: a settled entry is skipped. */
  done: AppendDone<unknown> | undefined;
  ctx: unknown;
}

export class Outbox {
  /** Messages taken and not yet settled. */
  depth = 0;
  bytes = 0;
  private full = false;

  /** `behind` names what the producer waits for in the "outbox full" line (e.g. "the msgqueue"). */
  constructor(
    private readonly hooks: Pick<ProducerHooks, 'outboxMessages' | 'outboxBytes' | 'onDepth' | 'onJournaled'>,
    private readonly log: Logger,
    private readonly behind: string,
  ) {}

  /** Counts a message of `size` bytes in and returns true, or returns false when it does not fit. */
  take(size: number, detail?: Record<string, unknown>): boolean {
    if (this.depth >= this.hooks.outboxMessages || this.bytes + size > this.hooks.outboxBytes) {
      if (!this.full) {
        this.full = true;
        this.log.warn(
          { depth: this.depth, bytes: this.bytes, ...detail },
          `queue outbox full: refusing appends until ${this.behind} catches up`,
        );
      }
      return false;
    }
    this.depth++;
    this.bytes += size;
    return true;
  }

  /** Counts a message out without telling its sender (a producer that calls `done` itself). */
  release(size: number): void {
    this.depth--;
    this.bytes -= size;
  }

  /**
   * Tells `e`'s sender how it ended, once: its seq (timed for onJournaled with `now`, the
   * performance.now() of the answer) or its refusal. Call changed() after a batch.
   */
  settle(e: OutboxEntry, result: number | ProtocolError, now = 0): void {
    const done = e.done;
    if (!done) return;
    e.done = undefined;
    this.release(e.bytes);
    if (typeof result === 'number') {
      this.hooks.onJournaled?.(e.acceptedAt, now);
      done(e.ctx, undefined, result);
    } else {
      done(e.ctx, result, 0);
    }
  }

  /** After messages came in or left: says when there is room again, and tells onDepth (once per batch). */
  changed(): void {
    if (this.full && this.depth < this.hooks.outboxMessages && this.bytes < this.hooks.outboxBytes) {
      this.full = false;
      this.log.info({ depth: this.depth }, 'queue outbox has room again');
    }
    this.hooks.onDepth?.(this.depth, this.bytes);
  }
}

/** `append`'s adapter from the settle callback to a Promise. */
function settlePromise(
  p: { resolve(seq: number): void; reject(err: ProtocolError): void },
  err: ProtocolError | undefined,
  seq: number,
): void {
  if (err) p.reject(err);
  else p.resolve(seq);
}

/** A producer's `append` in terms of its `offer`: the seq, or the refusal (at once or later). */
export function appendByOffer(offer: QueueProducer['offer'], msg: AppendRequest): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const refused = offer(msg, settlePromise, { resolve, reject });
    if (refused) reject(refused);
  });
}
