/**
 * Moves messages from the journal to one consumer socket, from a position onwards, as long as
 * the consumer has credit and the socket's unsent bytes stay under the limit. Past the limit
 * it waits for the last batch to be written out (the send callback) instead of buffering:
 * memory per consumer stays bounded by one batch plus maxBufferedBytes.
 */
import { CLOSE, type BaseMetrics, type Logger } from '@wsq/core';
import { WebSocket } from 'ws';
import type { ConsumerSession } from '../consumers/hub.js';
import type { Journal, StoredMessage } from '../journal/journal.js';
import type { CachedRecords } from '../journal/tail-cache.js';

export interface PumpOptions {
  journal: Journal;
  ws: WebSocket;
  /** First seq to deliver. */
  from: number;
  batchMessages: number;
  batchBytes: number;
  maxBufferedBytes: number;
  /** Messages that may be sent now (window minus unacknowledged); Infinity when unbounded. */
  credit(): number;
  /** Sends the batch; must call `written` once its last frame has been handed to the OS. */
  send(msgs: StoredMessage[], written: (err?: Error) => void): void;
  /**
   * Sends records straight from the tail cache, undecoded (link consumers copy their fields
   * into the msgs frame); like `send` otherwise. Without it every batch is decoded first.
   */
  sendRecords?(records: CachedRecords, written: (err?: Error) => void): void;
  /** Messages between `expected` and `got` were deleted by retention before being read. */
  onGap?(expected: number, got: number): void;
  onError(err: unknown): void;
}

export class Pump {
  private nextSeq: number;
  private running = false;
  private waitingForDrain = false;
  private stopped = false;

  constructor(private readonly opts: PumpOptions) {
    this.nextSeq = opts.from;
  }

  /** The next seq this pump will read. */
  get next(): number {
    return this.nextSeq;
  }

  /** Pumps if there is something to do and room to do it; a no-op while already pumping. */
  wake(): void {
    if (this.running || this.stopped || this.waitingForDrain) return;
    this.running = true;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  // Every exit condition is re-checked after each await, and `running` is cleared in the same
  // synchronous step that decides to stop, so a wake() that returned early is never lost.
  private async run(): Promise<void> {
    const { journal, ws } = this.opts;
    try {
      while (!this.stopped && !this.waitingForDrain && ws.readyState === WebSocket.OPEN) {
        const credit = this.opts.credit();
        if (credit <= 0) return;
        const first = journal.firstSeq;
        if (this.nextSeq < first) this.skipTo(first);
        if (this.nextSeq > journal.lastSeq) return;
        const max = Math.min(credit, this.opts.batchMessages);
        const { sendRecords } = this.opts;
        if (sendRecords) {
          const records = journal.readCachedRecords(this.nextSeq, max, this.opts.batchBytes);
          if (records !== undefined) {
            if (records.count === 0) return;
            if (records.first > this.nextSeq) this.skipTo(records.first);
            this.nextSeq = records.first + records.count;
            this.dispatch((written) => sendRecords(records, written));
            continue;
          }
        }
        // The tail cache answers without an await; only a consumer behind it waits for the disk.
        let msgs = sendRecords ? undefined : journal.readCached(this.nextSeq, max, this.opts.batchBytes);
        if (msgs === undefined) {
          msgs = await journal.read(this.nextSeq, max, this.opts.batchBytes);
          if (this.stopped || ws.readyState !== WebSocket.OPEN) return;
        }
        if (msgs.length === 0) return; // retention raced the read; the next wake retries
        if (msgs[0].seq > this.nextSeq) this.skipTo(msgs[0].seq);
        this.nextSeq = msgs[msgs.length - 1].seq + 1;
        const batch = msgs;
        this.dispatch((written) => this.opts.send(batch, written));
      }
    } catch (err) {
      if (!this.stopped) this.opts.onError(err);
    } finally {
      this.running = false;
    }
  }

  /** Sends; past the buffer limit, pauses until this batch has been written out. */
  private dispatch(send: (written: (err?: Error) => void) => void): void {
    let waiting = false;
    send((err) => {
      if (!waiting) return;
      this.waitingForDrain = false;
      if (!err) this.wake();
    });
    if (this.opts.ws.bufferedAmount >= this.opts.maxBufferedBytes) {
      waiting = true;
      this.waitingForDrain = true;
    }
  }

  private skipTo(seq: number): void {
    this.opts.onGap?.(this.nextSeq, seq);
    this.nextSeq = seq;
  }
}

/**
 * How a consumer's pump reports (the wsq.link.v3 and the legacy consumer alike): messages
 * retention deleted before they were read are counted as drops; a journal read that failed
 * closes the consumer with 1011, and it resumes from its cursor when it reconnects.
 */
export function consumerPumpReports(
  ws: WebSocket,
  name: string,
  metrics: BaseMetrics,
  log: Logger,
): Pick<PumpOptions, 'onGap' | 'onError'> {
  return {
    onGap(expected, got) {
      metrics.drops.inc({ reason: 'retention' }, got - expected);
      log.warn({ consumer: name, expected, got }, 'retention deleted messages before this consumer read them');
    },
    onError(err) {
      log.error({ err, consumer: name }, 'reading the journal failed; closing the consumer');
      metrics.closes.inc({ reason: 'internal' });
      ws.close(CLOSE.INTERNAL, 'journal read failed');
    },
  };
}

/**
 * A link consumer's entry in the ConsumerHub (wsq.link.v3 and legacy alike): appends wake its
 * pump; a newer connection under the same name stops it and closes this one with 1008.
 */
export function pumpSession(
  ws: WebSocket,
  name: string,
  pump: Pump,
  metrics: BaseMetrics,
  log: Logger,
): ConsumerSession {
  return {
    name,
    next: () => pump.next,
    wake: () => pump.wake(),
    replaced() {
      pump.stop();
      metrics.closes.inc({ reason: 'consumer_replaced' });
      log.info({ consumer: name }, 'consumer replaced by a newer connection');
      ws.close(CLOSE.POLICY, 'consumer replaced');
    },
  };
}
