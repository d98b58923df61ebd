// Segment files: one file per run of consecutive seqs, named by the first seq.
// This module knows how to list, scan (recovery) and read segments; it knows nothing
// of group commit, retention or caching (journal.ts).

import { open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkRecordAt,
  decodeRecord,
  recordBytesNeeded,
  recordSeq,
  recordTs,
  RECORD_CORRUPT,
  JournalError,
  type StoredMessage,
} from './record.js';
import { floorIndex } from './sorted.js';

const NAME_DIGITS = 20;
const NAME_PATTERN = /^(\d{20})\.log$/;
/** A sparse index entry at least every this many records... */
const INDEX_EVERY_RECORDS = 4096;
/** ...or every this many bytes, so a seek scans at most ~1 MiB. */
const INDEX_EVERY_BYTES = 1024 * 1024;
/** Read granularity for recovery and disk reads (grown only for a larger single record). */
const READ_CHUNK_BYTES = 256 * 1024;

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(NAME_DIGITS, '0')}.log`;
}

/** Segment first seqs found in `dir`, ascending. */
export async function listSegmentSeqs(dir: string): Promise<number[]> {
  const seqs: number[] = [];
  for (const name of await readdir(dir)) {
    const m = NAME_PATTERN.exec(name);
    if (m) seqs.push(Number(m[1]));
  }
  return seqs.sort((a, b) => a - b);
}

/** Where recent reads of a segment stopped; a small ring, one slot per recent reader or so. */
const READ_HINTS = 16;

/**
 * Offsets of every INDEX_EVERY_RECORDS-th record (or 1 MiB), for seeking without a full scan,
 * plus where recent reads stopped, so a consumer reading sequentially resumes without a rescan.
 *
 * Beside each entry, the time index: the largest ts of the segment's records before it. A
 * record's ts is its publisher's accept time, so ts is not strictly ordered across publishers;
 * the running maximum is, and the first record whose ts reaches `ms` is exactly the first one
 * where the running maximum does (timeFloorOffset).
 */
export class SparseIndex {
  private readonly seqs: number[] = [];
  private readonly offsets: number[] = [];
  /** Largest ts of the segment's records before each entry (-Infinity for the first). */
  private readonly maxTsBefore: number[] = [];
  private readonly hintSeqs = new Array<number>(READ_HINTS).fill(-1);
  private readonly hintOffsets = new Array<number>(READ_HINTS).fill(0);
  private nextHint = 0;

  /** Notes the record `seq` at `offset`; `maxTsBefore` is the largest ts of the segment's records before it. */
  note(seq: number, offset: number, maxTsBefore: number): void {
    const n = this.seqs.length;
    if (n === 0 || seq - this.seqs[n - 1] >= INDEX_EVERY_RECORDS || offset - this.offsets[n - 1] >= INDEX_EVERY_BYTES) {
      this.seqs.push(seq);
      this.offsets.push(offset);
      this.maxTsBefore.push(maxTsBefore);
    }
  }

  /**
   * File offset of the last entry before which no record has ts >= `ms`: the first such record
   * is at or after it, within one index interval (at most ~4096 records or 1 MiB to scan).
   */
  timeFloorOffset(ms: number): number {
    let lo = 0;
    let hi = this.maxTsBefore.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.maxTsBefore[mid] < ms) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return this.offsets[found] ?? 0;
  }

  /** Records that the record `seq` starts at `offset` (record offsets never change: append-only). */
  hint(seq: number, offset: number): void {
    this.hintSeqs[this.nextHint] = seq;
    this.hintOffsets[this.nextHint] = offset;
    this.nextHint = (this.nextHint + 1) % READ_HINTS;
  }

  /** File offset of the closest known record with seq <= `seq` (0 if none). */
  floorOffset(seq: number): number {
    const indexed = floorIndex(this.seqs, seq);
    let bestSeq = indexed >= 0 ? this.seqs[indexed] : -1;
    let bestOffset = indexed >= 0 ? this.offsets[indexed] : 0;
    for (let i = 0; i < READ_HINTS; i++) {
      if (this.hintSeqs[i] <= seq && this.hintSeqs[i] > bestSeq) {
        bestSeq = this.hintSeqs[i];
        bestOffset = this.hintOffsets[i];
      }
    }
    return bestOffset;
  }
}

export class Segment {
  readonly path: string;
  /** Records held: seqs firstSeq .. firstSeq + count - 1. */
  count = 0;
  /** Bytes of valid, committed records; readers never look past it. */
  size = 0;
  /** Bytes past `size` left in a sealed file after a mid-file corruption (counted for retention). */
  garbageBytes = 0;
  /** Newest message ts; -Infinity while empty. */
  maxTs = -Infinity;
  readonly index = new SparseIndex();
  /** Open write handle, only on the active segment. */
  handle: FileHandle | undefined;

  constructor(
    dir: string,
    readonly firstSeq: number,
  ) {
    this.path = join(dir, segmentFileName(firstSeq));
  }

  get nextSeq(): number {
    return this.firstSeq + this.count;
  }

  noteRecord(seq: number, size: number, ts: number): void {
    this.index.note(seq, this.size, this.maxTs);
    this.count++;
    this.size += size;
    if (ts > this.maxTs) this.maxTs = ts;
  }
}

export type StopReason = 'end' | 'stopped' | 'incomplete' | 'corrupt';

/**
 * Calls `visit(buf, off, size, fileOffset)` for each valid record in [start, end) of the file, reading
 * bounded chunks. `visit` returns false to stop. Reports where and why iteration stopped.
 */
export async function forEachRecord(
  fh: FileHandle,
  start: number,
  end: number,
  visit: (buf: Buffer, off: number, size: number, fileOffset: number) => boolean,
): Promise<{ offset: number; reason: StopReason }> {
  let buf: Buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(end - start, 1)));
  let bufStart = start; // file offset of buf[0]
  let len = 0;
  let off = 0;
  for (;;) {
    const size = checkRecordAt(buf, off, len);
    if (size > 0) {
      if (!visit(buf, off, size, bufStart + off)) return { offset: bufStart + off, reason: 'stopped' };
      off += size;
      continue;
    }
    const fileOffset = bufStart + off;
    if (size === RECORD_CORRUPT) return { offset: fileOffset, reason: 'corrupt' };
    if (fileOffset >= end) return { offset: fileOffset, reason: 'end' };
    if (bufStart + len >= end) return { offset: fileOffset, reason: 'incomplete' };
    const needed = recordBytesNeeded(buf, off, len);
    // Keep the partial record, drop what was consumed, and grow only for an oversized record.
    if (needed > buf.length) buf = growKeeping(buf, off, len, needed);
    else buf.copy(buf, 0, off, len);
    len -= off;
    bufStart = fileOffset;
    off = 0;
    const want = Math.min(buf.length - len, end - (bufStart + len));
    const { bytesRead } = await fh.read(buf, len, want, bufStart + len);
    if (bytesRead === 0) return { offset: fileOffset, reason: 'incomplete' };
    len += bytesRead;
  }
}

function growKeeping(buf: Buffer, off: number, len: number, needed: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(needed, READ_CHUNK_BYTES));
  buf.copy(bigger, 0, off, len);
  return bigger;
}

export interface ScanResult {
  segment: Segment;
  fileBytes: number;
  /** Where the valid records end, and why; 'end' means the whole file is valid. */
  stop: StopReason;
}

/** Recovery scan: index every valid record whose seq follows on from the file name. */
export async function scanSegment(dir: string, firstSeq: number): Promise<ScanResult> {
  const segment = new Segment(dir, firstSeq);
  const fh = await open(segment.path, 'r');
  try {
    const fileBytes = (await fh.stat()).size;
    let seqMismatch = false;
    const result = await forEachRecord(fh, 0, fileBytes, (buf, off, size) => {
      if (recordSeq(buf, off) !== segment.nextSeq) {
        seqMismatch = true;
        return false;
      }
      segment.noteRecord(segment.nextSeq, size, recordTs(buf, off));
      return true;
    });
    return { segment, fileBytes, stop: seqMismatch ? 'corrupt' : result.reason };
  } finally {
    await fh.close();
  }
}

/**
 * What a read may still take; shared by cache and disk reads so limits span both. The first
 * message is always taken; then no more than maxMessages, and none that would pass maxBytes
 * (reaching it ends the read).
 */
export class ReadBudget {
  readonly out: StoredMessage[] = [];
  private taken = 0;
  private bytes = 0;
  full = false;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {
    if (maxMessages <= 0) this.full = true;
  }

  /** Counts a message of `size` bytes against the limits; false (and full) when it does not fit. */
  admit(size: number): boolean {
    if (this.full) return false;
    if (this.taken > 0 && this.bytes + size > this.maxBytes) {
      this.full = true;
      return false;
    }
    this.taken++;
    this.bytes += size;
    if (this.taken >= this.maxMessages || this.bytes >= this.maxBytes) this.full = true;
    return true;
  }

  /** Takes the message into `out` unless a limit is hit. */
  offer(msg: StoredMessage, size: number): boolean {
    if (!this.admit(size)) return false;
    this.out.push(msg);
    return true;
  }
}

/**
 * Reads messages fromSeq..lastSeq of a segment into the budget, seeking with the sparse index.
 * Opens its own read handle, so a concurrent roll or retention cannot close it under us.
 * Returns how many messages were taken.
 */
export async function readSegment(seg: Segment, fromSeq: number, lastSeq: number, budget: ReadBudget): Promise<number> {
  const end = seg.size; // snapshot: bytes committed so far
  const start = seg.index.floorOffset(fromSeq);
  const fh = await open(seg.path, 'r');
  let taken = 0;
  // First record not taken, remembered for the next sequential read.
  let resumeSeq = -1;
  let resumeOffset = 0;
  try {
    const { reason } = await forEachRecord(fh, start, end, (buf, off, size, fileOffset) => {
      const seq = recordSeq(buf, off);
      if (seq < fromSeq) return true;
      resumeSeq = seq;
      resumeOffset = fileOffset;
      if (seq > lastSeq || !budget.offer(decodeRecord(buf, off), size)) return false;
      taken++;
      resumeSeq = seq + 1;
      resumeOffset = fileOffset + size;
      return true;
    });
    if (reason === 'corrupt' || reason === 'incomplete') {
      throw new JournalError('JOURNAL_CORRUPT', `corrupt record inside the committed range of ${seg.path}`);
    }
    if (resumeSeq >= 0) seg.index.hint(resumeSeq, resumeOffset);
    return taken;
  } finally {
    await fh.close();
  }
}

/**
 * The seq of the segment's first record with ts >= `ms` (the segment's maxTs must be >= ms),
 * found from the time index with one bounded scan; nextSeq if the committed records hold none.
 */
export async function seqAtTimeInSegment(seg: Segment, ms: number): Promise<number> {
  const end = seg.size;
  const fh = await open(seg.path, 'r');
  let found = seg.nextSeq;
  try {
    await forEachRecord(fh, seg.index.timeFloorOffset(ms), end, (buf, off) => {
      if (recordTs(buf, off) < ms) return true;
      found = recordSeq(buf, off);
      return false;
    });
    return found;
  } finally {
    await fh.close();
  }
}
