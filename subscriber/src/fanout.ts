/**
 * Paces the fan-out of queue batches. `bufferedAmount` counts what this event-loop turn wrote
 * until the TLS writes complete on a later turn, so one burst larger than maxBufferedBytes
 * would trip the slow-consumer limit of every socket, fast ones included. Fanning out at most
 * `budgetBytes` of messages per turn lets healthy sockets flush in between; only a socket
 * that still holds more than the limit at its next send is slow. Each batch is acknowledged
 * to the queue once all of it is handed to the sockets.
 */
import type { Logger, QueueMessage } from '@wsq/core';
import type { SubscriberMetrics } from './metrics.js';
import type { Router } from './router.js';

/** Framing around `data` in a msg frame, roughly, for the budget. */
const FRAME_OVERHEAD_BYTES = 64;

export interface FanoutOptions {
  /** Message bytes fanned out per event-loop turn (each message counted once). */
  budgetBytes: number;
  /** Messages waiting to be fanned out; the link's window keeps a wsq queue below it. */
  maxBacklogMessages: number;
  /** The batch ending with `seq` is handed over: acknowledge it. */
  onHandedOver(seq: number): void;
  metrics: SubscriberMetrics;
  log: Logger;
}

export class Fanout {
  private readonly backlog: QueueMessage[][] = [];
  private backlogMessages = 0;
  /** Index of the next message in backlog[0]. */
  private next = 0;
  /** Bytes fanned out in this event-loop turn, and the immediate that ends the turn. */
  private spent = 0;
  private turn: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(
    private readonly router: Router,
    private readonly opts: FanoutOptions,
  ) {}

  /** Queues a batch (in seq order) and fans out what the budget allows right now. */
  enqueue(batch: readonly QueueMessage[]): void {
    if (this.closed || batch.length === 0) return;
    this.opts.metrics.consumed.inc(batch.length);
    if (this.backlogMessages + batch.length > this.opts.maxBacklogMessages) {
      // Only a legacy (ws-go) queue, which knows no window, can outrun us like this.
      this.opts.metrics.base.drops.inc({ reason: 'fanout_backlog' }, batch.length);
      this.opts.log.warn(
        { dropped: batch.length, backlog: this.backlogMessages },
        'fan-out backlog full: messages dropped',
      );
      this.opts.onHandedOver(batch[batch.length - 1]!.seq);
      return;
    }
    this.backlog.push([...batch]);
    this.backlogMessages += batch.length;
    this.drain();
  }

  /** Fans out until this turn's budget is spent; the next turn (an immediate) resets it. */
  private drain(): void {
    const now = Date.now();
    while (this.backlog.length > 0 && !this.closed && this.spent < this.opts.budgetBytes) {
      const batch = this.backlog[0]!;
      const m = batch[this.next++]!;
      this.backlogMessages--;
      this.router.fanOut(m, now);
      this.spent += m.data.length + m.topic.length + FRAME_OVERHEAD_BYTES;
      if (this.next === batch.length) {
        this.backlog.shift();
        this.next = 0;
        this.opts.onHandedOver(m.seq);
      }
    }
    this.router.flushCounters();
    // Many link frames can arrive in one I/O callback: the budget spans the whole turn.
    if (this.spent > 0 && this.turn === undefined && !this.closed) this.turn = setImmediate(() => this.nextTurn());
  }

  private nextTurn(): void {
    this.turn = undefined;
    this.spent = 0;
    if (this.backlog.length > 0) this.drain();
  }

  /** Stops fanning out; what is left is not acknowledged, so the queue sends it again. */
  close(): void {
    this.closed = true;
    clearImmediate(this.turn);
    this.turn = undefined;
  }
}
