// The msgqueue's append-only message log. This file serves reads (tail cache first, then
// disk), enforces retention and owns the lifecycle; group commit is in journal-writer.ts,
// crash recovery in journal-recovery.ts, segment files in segment.ts, the record format
// in record.ts, options and types in journal-api.ts.

import { unlink } from 'node:fs/promises';
import {
  asJournalError,
  JOURNAL_RETENTION_INTERVAL_MS,
  validateOptions,
  type AppendInput,
  type Journal,
  type JournalDeps,
  type JournalOptions,
  type JournalStats,
} from './journal-api.js';
import { recoverSegments, type RecoveryReport } from './journal-recovery.js';
import { JournalWriter } from './journal-writer.js';
import { JournalError, type StoredMessage } from './record.js';
import { ReadBudget, readSegment, seqAtTimeInSegment, type Segment } from './segment.js';
import { TailCache, type CachedRecords } from './tail-cache.js';

export {
  JOURNAL_DEFAULTS,
  JOURNAL_MAX_PENDING_BYTES,
  JOURNAL_MAX_WRITE_BYTES,
  JOURNAL_RETENTION_INTERVAL_MS,
  type AppendInput,
  type FsyncMode,
  type Journal,
  type JournalDeps,
  type JournalOptions,
  type JournalStats,
} from './journal-api.js';
export { JournalError, JOURNAL_ERROR_CODES, type JournalErrorCode, type StoredMessage } from './record.js';
export type { RecoveryReport } from './journal-recovery.js';

/** Opens (creating if needed) the journal in opts.dir, running crash recovery first. */
export async function openJournal(opts: JournalOptions, deps: JournalDeps = {}): Promise<Journal> {
  const options = validateOptions(opts);
  const recovering = recoverSegments(options.dir, options.fsync !== 'never', options.minNextSeq);
  const { segments, report } = await recovering.catch((err: unknown) => {
    throw asJournalError(err, 'journal recovery failed');
  });
  return new FileJournal(options, segments, report, deps.now ?? Date.now);
}

class FileJournal implements Journal {
  readonly stats: JournalStats = {
    writes: 0,
    fsyncs: 0,
    appendedMessages: 0,
    cacheReads: 0,
    diskReads: 0,
    timeSeeks: 0,
    deletedSegments: 0,
    unlinkErrors: 0,
  };
  private readonly writer: JournalWriter;
  private readonly cache: TailCache;
  private closing: Promise<void> | undefined;
  /** Messages and bytes in `segments`, kept up to date for the retention check. */
  private retainedCount = 0;
  private retainedByteCount = 0;
  private readonly unlinks = new Set<Promise<void>>();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly opts: Readonly<JournalOptions>,
    /** Ascending by firstSeq; the last one is the active segment. */
    private readonly segments: Segment[],
    readonly recovery: Readonly<RecoveryReport>,
    private readonly now: () => number,
  ) {
    const active = segments[segments.length - 1];
    for (const seg of segments) this.countRetained(seg, 1);
    this.cache = new TailCache(opts.cacheBytes, active.nextSeq);
    this.writer = new JournalWriter(opts, active, this.stats, {
      onRoll: (seg) => this.segments.push(seg),
      onRecord: (msg, recordBytes, buf, off) => {
        this.cache.push(msg.seq, buf, off, recordBytes);
        this.retainedCount++;
        this.retainedByteCount += recordBytes;
      },
      onGroupCommitted: () => this.enforceRetention(),
      groupBuffer: (bytes) => this.cache.groupBuffer(bytes),
    });
    this.startTimers();
    this.enforceRetention();
  }

  get lastSeq(): number {
    return this.writer.active.nextSeq - 1;
  }

  get firstSeq(): number {
    for (const seg of this.segments) if (seg.count > 0) return seg.firstSeq;
    return this.writer.active.nextSeq;
  }

  get retainedBytes(): number {
    return this.retainedByteCount;
  }

  get recoveredTruncatedBytes(): number {
    return this.recovery.truncatedBytes + this.recovery.skippedBytes;
  }

  append(items: readonly AppendInput[], producer?: string): Promise<StoredMessage[]> {
    if (this.closing) return Promise.reject(closedError());
    return this.writer.enqueue(items, producer);
  }

  readCached(fromSeq: number, maxMessages: number, maxBytes: number): StoredMessage[] | undefined {
    const { budget, from, last } = this.startRead(fromSeq, maxMessages, maxBytes);
    if (budget.full || from > last) return budget.out;
    if (!this.cache.collect(from, last, budget)) return undefined;
    this.stats.cacheReads++;
    return budget.out;
  }

  readCachedRecords(fromSeq: number, maxMessages: number, maxBytes: number): CachedRecords | undefined {
    const { budget, from, last } = this.startRead(fromSeq, maxMessages, maxBytes);
    if (budget.full || from > last) return { first: from, count: 0, bytes: 0, bufs: [], offs: [] };
    const records = this.cache.records(from, last, budget);
    if (records) this.stats.cacheReads++;
    return records;
  }

  async read(fromSeq: number, maxMessages: number, maxBytes: number): Promise<StoredMessage[]> {
    const start = this.startRead(fromSeq, maxMessages, maxBytes);
    const { budget, last } = start;
    let { from } = start;
    while (!budget.full && from <= last) {
      if (this.cache.collect(from, last, budget)) {
        this.stats.cacheReads++;
        break;
      }
      const seg = this.segmentFor(from);
      if (!seg) break;
      if (seg.firstSeq > from) {
        from = seg.firstSeq; // a gap left by a corrupt older segment
        continue;
      }
      const taken = await this.readFromDisk(seg, from, last, budget);
      from = taken > 0 ? budget.out[budget.out.length - 1].seq + 1 : seg.nextSeq;
      from = Math.max(from, this.firstSeq); // retention may have moved on while we read
    }
    return budget.out;
  }

  /**
   * What every read starts from: its budget, the first seq still retained at or after fromSeq,
   * and a snapshot of the last committed seq (appends committing meanwhile are left for the
   * next read).
   */
  private startRead(
    fromSeq: number,
    maxMessages: number,
    maxBytes: number,
  ): { budget: ReadBudget; from: number; last: number } {
    checkRead(this.closing, fromSeq, maxMessages, maxBytes);
    return {
      budget: new ReadBudget(maxMessages, maxBytes),
      from: Math.max(Math.ceil(fromSeq), this.firstSeq),
      last: this.lastSeq,
    };
  }

  async seqAtTime(ms: number): Promise<number> {
    if (this.closing) throw closedError();
    if (Number.isNaN(ms)) throw new JournalError('INVALID_ARGUMENT', 'seqAtTime needs a numeric time');
    // Every record of a segment before the first one whose newest ts reaches ms is older.
    for (const seg of this.segments) {
      if (seg.count === 0 || seg.maxTs < ms) continue;
      this.stats.timeSeeks++;
      try {
        const seq = await seqAtTimeInSegment(seg, ms);
        return Math.max(seq, this.firstSeq);
      } catch (err) {
        // Retention deleted it meanwhile: what is left starts after it, so start there again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !this.segments.includes(seg)) return this.seqAtTime(ms);
        throw asJournalError(err, 'journal seek failed');
      }
    }
    return this.lastSeq + 1;
  }

  async sync(): Promise<void> {
    if (this.closing) throw closedError();
    await this.writer.sync();
  }

  async applyRetention(): Promise<void> {
    if (this.closing) throw closedError();
    this.enforceRetention();
    await Promise.all(this.unlinks);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** The segment holding `seq`, else the first one after it (there may be a gap), else none. */
  private segmentFor(seq: number): Segment | undefined {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid].firstSeq <= seq) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found >= 0 && this.segments[found].nextSeq > seq) return this.segments[found];
    return this.segments[found + 1];
  }

  private async readFromDisk(seg: Segment, from: number, last: number, budget: ReadBudget): Promise<number> {
    this.stats.diskReads++;
    try {
      return await readSegment(seg, from, last, budget);
    } catch (err) {
      // Retention may delete a segment while we read it: its messages are simply gone.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !this.segments.includes(seg)) return 0;
      throw asJournalError(err, 'journal read failed');
    }
  }

  /** Drops expired sealed segments from the index now; their files are unlinked in the background. */
  private enforceRetention(): void {
    const { retainMessages, retainBytes, retainMs } = this.opts;
    const cutoff = retainMs > 0 ? this.now() - retainMs : -Infinity;
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      const overCount = retainMessages > 0 && this.retainedCount > retainMessages;
      const overBytes = retainBytes > 0 && this.retainedByteCount > retainBytes;
      if (!overCount && !overBytes && !(oldest.maxTs < cutoff)) break;
      this.segments.shift();
      this.countRetained(oldest, -1);
      this.unlinkInBackground(oldest);
    }
    this.cache.dropBefore(this.firstSeq);
  }

  private countRetained(seg: Segment, sign: 1 | -1): void {
    this.retainedCount += sign * seg.count;
    this.retainedByteCount += sign * (seg.size + seg.garbageBytes);
  }

  private unlinkInBackground(seg: Segment): void {
    const done: Promise<void> = unlink(seg.path).then(
      () => void this.stats.deletedSegments++,
      // The file stays; a restart recovers it and retention deletes it again.
      () => void this.stats.unlinkErrors++,
    );
    this.unlinks.add(done);
    void done.finally(() => this.unlinks.delete(done));
  }

  private startTimers(): void {
    this.timers.push(setInterval(() => this.enforceRetention(), JOURNAL_RETENTION_INTERVAL_MS));
    if (this.opts.fsync === 'batch') {
      this.timers.push(setInterval(() => void this.writer.syncIfDirty(), this.opts.fsyncIntervalMs));
    }
    for (const timer of this.timers) timer.unref();
  }

  private async shutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.writer.drained(); // appends accepted before close are still written
    await Promise.all(this.unlinks);
    await this.writer.closeActive();
  }
}

function checkRead(closing: unknown, fromSeq: number, maxMessages: number, maxBytes: number): void {
  if (closing) throw closedError();
  if (!Number.isFinite(fromSeq) || Number.isNaN(maxMessages) || Number.isNaN(maxBytes)) {
    throw new JournalError('INVALID_ARGUMENT', 'read needs numeric fromSeq, maxMessages and maxBytes');
  }
}

function closedError(): JournalError {
  return new JournalError('JOURNAL_CLOSED', 'journal is closed');
}
