/**
 * Paces the fan-out of queue batches and the socket writes. A TLS write costs ~20 µs of CPU
 * whatever its size, so sockets collect the frames fanned out to them (Client.deliver) and
 * write them once per event-loop turn: in `endTurn`, an immediate, after every link frame
 * the turn read (often several, each in its own I/O callback).
 *
 * `bufferedAmount` counts a written frame as unsent until its TLS write completes (for a
 * healthy socket: in the next turn, before our immediate runs), and collected frames count
 * too, so one burst larger than maxBufferedBytes would trip the slow-consumer limit of every
 * socket, fast ones included. What is collected or in flight from the last turn's writes is
 * kept below `budgetBytes` of messages, so healthy sockets stay below the limit; only a
 * socket that still holds more than the limit at its next frame is slow. Each batch is
 * acknowledged to the queue once all of it is handed to the sockets.
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
  /** Message bytes collected by the sockets since the last write. */
  private collected = 0;
  /** Message bytes written in the last turn: in flight until this turn's immediate. */
  private inFlight = 0;
  /** The immediate that ends this turn. */
  private turn: NodeJS.Immediate | undefined;
  private closed = false;
  private readonly endTurnBound = (): void => this.endTurn();

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
    this.scheduleTurnEnd();
  }

  /** Fans out (the sockets collect) while the budget allows. */
  private drain(): void {
    const now = Date.now();
    const budget = this.opts.budgetBytes - this.inFlight;
    while (this.backlog.length > 0 && !this.closed && this.collected < budget) {
      const batch = this.backlog[0]!;
      const m = batch[this.next++]!;
      this.backlogMessages--;
      this.router.fanOut(m, now);
      this.collected += m.data.length + m.topic.length + FRAME_OVERHEAD_BYTES;
      if (this.next === batch.length) {
        this.backlog.shift();
        this.next = 0;
        this.opts.onHandedOver(m.seq);
      }
    }
    this.router.flushCounters();
  }

  private scheduleTurnEnd(): void {
    if (this.turn === undefined && !this.closed && (this.collected > 0 || this.inFlight > 0))
      this.turn = setImmediate(this.endTurnBound);
  }

  /**
   * Ends the turn: the last turn's writes have completed by now (Node reports a TLS write the
   * kernel took right before running immediates), so the budget is free again but for what
   * this turn collected; fan out up to it, then each socket writes what it collected at once.
   */
  private endTurn(): void {
    this.turn = undefined;
    this.inFlight = 0;
    this.drain();
    this.router.flushWrites();
    this.inFlight = this.collected;
    this.collected = 0;
    this.scheduleTurnEnd();
  }

  /** Stops fanning out; what is left is not acknowledged, so the queue sends it again. */
  close(): void {
    this.router.flushWrites();
    this.closed = true;
    clearImmediate(this.turn);
    this.turn = undefined;
  }
}
