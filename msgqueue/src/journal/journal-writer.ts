// Group commit: appends queue up while the event loop turns (or while an fsync or a segment
// roll is in flight) and go to the active segment as ONE write and, for fsync 'always', ONE
// fsync. Only this module writes segment files; it never has more than one group in flight.

import { ftruncateSync, writeSync } from 'node:fs';
import { generatedPid, isProducerId } from '@wsq/core';
import {
  asJournalError,
  JOURNAL_MAX_PENDING_BYTES,
  JOURNAL_MAX_WRITE_BYTES,
  type AppendInput,
  type JournalOptions,
  type JournalStats,
} from './journal-api.js';
import { createSegmentFile } from './journal-recovery.js';
import { encodeRecordInto, JournalError, measureRecord, type RecordSizes, type StoredMessage } from './record.js';
import type { Segment } from './segment.js';

export interface WriterHooks {
  /** A new active segment exists; the previous one is sealed and fsynced. */
  onRoll(seg: Segment): void;
  /**
   * One message is committed (durable as the fsync mode promises, noted in its segment); its
   * record is the `recordBytes` at `off` in `buf`, the group's write buffer (valid during the
   * call: a hook that keeps the record copies it).
   */
  onRecord(msg: StoredMessage, recordBytes: number, buf: Buffer, off: number): void;
  /** A whole group is committed and its callers resolved. */
  onGroupCommitted(): void;
  /** Where to encode a group of `bytes` (the tail cache's slab); undefined: a buffer of its own. */
  groupBuffer?(bytes: number): Buffer | undefined;
}

interface PendingAppend {
  items: readonly AppendInput[];
  /** Each item's pid: its own, or the one its counter spells out. */
  pids: (string | undefined)[];
  sizes: RecordSizes[];
  bytes: number;
  resolve: (msgs: StoredMessage[]) => void;
  reject: (err: Error) => void;
}

export class JournalWriter {
  private pending: PendingAppend[] = [];
  private pendingBytes = 0;
  /** Set while a drain of `pending` is scheduled or running. */
  private draining: Promise<void> | undefined;
  /** Sticky: after an fsync or unrecoverable write error nothing more is appended. */
  private failure: JournalError | undefined;
  private unsynced = false;
  private syncing = false;

  constructor(
    private readonly opts: Readonly<JournalOptions>,
    private activeSegment: Segment,
    private readonly stats: JournalStats,
    private readonly hooks: WriterHooks,
  ) {}

  get active(): Segment {
    return this.activeSegment;
  }

  enqueue(items: readonly AppendInput[], producer?: string): Promise<StoredMessage[]> {
    if (this.failure) return Promise.reject(this.failure);
    let measured: { pids: (string | undefined)[]; sizes: RecordSizes[]; bytes: number };
    try {
      measured = measureItems(items, producer);
    } catch (err) {
      return Promise.reject(err);
    }
    const { pids, sizes, bytes } = measured;
    if (sizes.length === 0) return Promise.resolve([]);
    if (this.pending.length > 0 && this.pendingBytes + bytes > JOURNAL_MAX_PENDING_BYTES) {
      return Promise.reject(new JournalError('JOURNAL_OVERLOADED', 'too many bytes waiting for the disk'));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ items, pids, sizes, bytes, resolve, reject });
      this.pendingBytes += bytes;
      this.scheduleDrain();
    });
  }

  /** Resolves once every append queued so far has been written or rejected. */
  async drained(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** fsyncs the active segment (sealed ones were fsynced when they were rolled). */
  async sync(): Promise<void> {
    const handle = this.activeSegment.handle;
    if (!handle || this.failure) return;
    this.unsynced = false;
    try {
      await handle.datasync();
      this.stats.fsyncs++;
    } catch (err) {
      // After a failed fsync the kernel may have dropped the dirty pages: never trust the file again.
      this.fail(err);
      throw this.failure;
    }
  }

  /** For the 'batch' timer: fsync if anything was written since the last one. */
  async syncIfDirty(): Promise<void> {
    if (!this.unsynced || this.syncing) return;
    this.syncing = true;
    try {
      await this.sync();
    } catch {
      // Recorded as the sticky failure; the next append reports it.
    } finally {
      this.syncing = false;
    }
  }

  /** Final fsync and close of the active segment; call after drained(). */
  async closeActive(): Promise<void> {
    const handle = this.activeSegment.handle;
    this.activeSegment.handle = undefined;
    if (!handle) return;
    try {
      if (!this.failure) {
        await handle.datasync();
        this.stats.fsyncs++;
      }
    } catch (err) {
      throw asJournalError(err, 'journal fsync at close failed');
    } finally {
      await handle.close();
    }
  }

  private scheduleDrain(): void {
    if (this.draining) return;
    // setImmediate, not a microtask: every append of this event-loop turn joins the group.
    this.draining = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) await this.writeNextGroup();
    } finally {
      this.draining = undefined;
    }
  }

  private async writeNextGroup(): Promise<void> {
    if (!this.failure && this.mustRoll()) await this.roll().catch((err: unknown) => this.fail(err));
    if (this.failure) return rejectGroup(this.takeGroup(Infinity), this.failure);
    const seg = this.activeSegment;
    const group = this.takeGroup(Math.max(this.opts.segmentBytes - seg.size, 0));
    const { buf, results } = encodeGroup(group, seg.nextSeq, this.hooks);
    try {
      this.writeAll(seg, buf);
    } catch (err) {
      this.undoPartialWrite(seg);
      return rejectGroup(group, asJournalError(err, 'journal write failed'));
    }
    if (this.opts.fsync === 'always') {
      // Visible to readers only once durable, so nothing is delivered that a crash could undo.
      await this.sync().catch(() => undefined);
      if (this.failure) return rejectGroup(group, this.failure);
    } else {
      this.unsynced = true;
    }
    this.commit(seg, group, results, buf);
  }

  /** The oldest pending calls, whole, up to `roomBytes` (at least one call). */
  private takeGroup(roomBytes: number): PendingAppend[] {
    const limit = Math.min(roomBytes, JOURNAL_MAX_WRITE_BYTES);
    let n = 0;
    let bytes = 0;
    while (n < this.pending.length && (n === 0 || bytes + this.pending[n].bytes <= limit)) {
      bytes += this.pending[n].bytes;
      n++;
    }
    this.pendingBytes -= bytes;
    return this.pending.splice(0, n);
  }

  /**
   * Writes the group on the event loop's own thread. A write without fsync only copies into
   * the page cache (tens of µs for a group), cheaper than handing it to the libuv threadpool
   * and waking up again for the answer, which cost a thread hop per group and delayed every
   * ack by a poll phase. The slow part, fsync, stays asynchronous.
   */
  private writeAll(seg: Segment, buf: Buffer): void {
    const handle = seg.handle;
    if (!handle) throw new JournalError('JOURNAL_IO', 'active segment is not open');
    for (let off = 0; off < buf.length;) {
      off += writeSync(handle.fd, buf, off, buf.length - off);
      this.stats.writes++;
    }
  }

  /** Cuts a half-written group off so the file ends on a record boundary again. */
  private undoPartialWrite(seg: Segment): void {
    try {
      if (seg.handle) ftruncateSync(seg.handle.fd, seg.size);
    } catch (err) {
      this.fail(err);
    }
  }

  private commit(seg: Segment, group: PendingAppend[], results: StoredMessage[][], buf: Buffer): void {
    let off = 0;
    for (let g = 0; g < group.length; g++) {
      const msgs = results[g];
      for (let i = 0; i < msgs.length; i++) {
        const size = group[g].sizes[i].recordBytes;
        seg.noteRecord(msgs[i].seq, size, msgs[i].ts);
        this.hooks.onRecord(msgs[i], size, buf, off);
        off += size;
      }
      this.stats.appendedMessages += msgs.length;
      group[g].resolve(msgs);
    }
    this.hooks.onGroupCommitted();
  }

  /** The active segment is full (and not empty: one record larger than a segment still fits). */
  private mustRoll(): boolean {
    const seg = this.activeSegment;
    return seg.size >= this.opts.segmentBytes && seg.count > 0;
  }

  private async roll(): Promise<void> {
    const old = this.activeSegment;
    const handle = old.handle;
    old.handle = undefined; // from here on the background sync leaves it alone
    if (handle) {
      // Always fsync a sealed segment: then only the active one can hold unsynced data.
      await handle.datasync();
      this.stats.fsyncs++;
      await handle.close();
    }
    this.activeSegment = await createSegmentFile(this.opts.dir, old.nextSeq, this.opts.fsync !== 'never');
    this.hooks.onRoll(this.activeSegment);
  }

  private fail(err: unknown): void {
    this.failure ??= asJournalError(err, 'journal I/O failed');
  }
}

function rejectGroup(group: PendingAppend[], err: Error): void {
  for (const call of group) call.reject(err);
}

/**
 * Checks each item and measures its record, in one pass: the pid it is journaled with (its
 * own, or generatedPid(producer, counter)), the record sizes, and their total.
 */
function measureItems(
  items: readonly AppendInput[],
  producer: string | undefined,
): { pids: (string | undefined)[]; sizes: RecordSizes[]; bytes: number } {
  if (!Array.isArray(items)) throw new JournalError('INVALID_ARGUMENT', 'append takes an array');
  if (producer !== undefined && !isProducerId(producer))
    throw new JournalError('INVALID_ARGUMENT', 'producer must be 12 base64url characters');
  const pids = new Array<string | undefined>(items.length);
  const sizes = new Array<RecordSizes>(items.length);
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const item: AppendInput = items[i];
    const ok =
      typeof item?.topic === 'string' &&
      typeof item.data === 'string' &&
      Number.isFinite(item.ts) &&
      (item.pid === undefined || typeof item.pid === 'string');
    if (!ok)
      throw new JournalError('INVALID_ARGUMENT', 'append item needs string topic/data, finite ts, optional string pid');
    const counter = item.counter;
    if (counter !== undefined) {
      const counted = producer !== undefined && item.pid === undefined && Number.isSafeInteger(counter) && counter >= 0;
      if (!counted)
        throw new JournalError('INVALID_ARGUMENT', 'a counter needs the producer, no pid, and a natural number');
      pids[i] = generatedPid(producer, counter);
    } else {
      pids[i] = item.pid;
    }
    sizes[i] = measureRecord(item.topic, item.data, pids[i]);
    bytes += sizes[i].recordBytes;
  }
  return { pids, sizes, bytes };
}

/** Assigns seqs from `firstSeq` in call order and encodes the whole group into one buffer. */
function encodeGroup(
  group: PendingAppend[],
  firstSeq: number,
  hooks: Pick<WriterHooks, 'groupBuffer'>,
): { buf: Buffer; results: StoredMessage[][] } {
  const bytes = group.reduce((sum, call) => sum + call.bytes, 0);
  const buf = hooks.groupBuffer?.(bytes) ?? Buffer.allocUnsafe(bytes);
  const results: StoredMessage[][] = [];
  let seq = firstSeq;
  let off = 0;
  for (const call of group) {
    const { items, pids, sizes } = call;
    const msgs = new Array<StoredMessage>(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const msg: StoredMessage = { seq: seq++, topic: item.topic, data: item.data, ts: item.ts };
      const pid = pids[i];
      if (pid !== undefined) msg.pid = pid;
      off = encodeRecordInto(buf, off, msg, sizes[i]);
      msgs[i] = msg;
    }
    results.push(msgs);
  }
  return { buf, results };
}
