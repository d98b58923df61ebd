// Opening a journal directory after a clean stop or a crash: find the segments, keep
// every valid record, cut a torn tail off the last segment, and hand back an active
// segment ready for appending, whose seqs were never handed out before.

import { open, unlink, type FileHandle } from 'node:fs/promises';
import { makeDirs } from './make-dirs.js';
import { salvageRecords } from './journal-salvage.js';
import { JournalError } from './record.js';
import { listSegmentSeqs, scanSegment, Segment } from './segment.js';

export interface RecoveryReport {
  /** Bytes cut off the end of the last segment (a torn tail: no valid record after it). */
  truncatedBytes: number;
  /**
   * Bytes after a corrupt record that valid records follow, in any segment: unreadable,
   * left on disk for inspection, never cut (a torn tail has nothing valid after it).
   */
  skippedBytes: number;
  /** Segments that stopped early at a corrupt or missing record with valid records after it. */
  corruptSegments: number;
  /**
   * Seqs the journal no longer holds that were handed out before: in a corrupt record, or
   * acknowledged by a consumer but lost with the journal's unsynced tail. New messages start
   * after them, so a seq never names two messages.
   */
  skippedSeqs: number;
  /** Valid records found past a corrupt one in the last segment, copied into new segments. */
  salvagedRecords: number;
}

export interface RecoveredSegments {
  /** Ascending; the last one is open for appending (`handle` set). */
  segments: Segment[];
  report: RecoveryReport;
}

/**
 * `minNextSeq`: seqs below it were handed out before (a consumer acknowledged them), so the
 * active segment starts at it at the least, even if the journal lost them.
 */
export async function recoverSegments(dir: string, syncDir: boolean, minNextSeq = 1): Promise<RecoveredSegments> {
  await makeDirs(dir);
  const seqs = await listSegmentSeqs(dir);
  const report: RecoveryReport = {
    truncatedBytes: 0,
    skippedBytes: 0,
    corruptSegments: 0,
    skippedSeqs: 0,
    salvagedRecords: 0,
  };
  const segments: Segment[] = [];
  const floor = minNextSeq;
  for (let i = 0; i < seqs.length; i++) {
    const prev = segments.at(-1);
    if (prev && seqs[i] < prev.nextSeq) {
      throw new JournalError('JOURNAL_CORRUPT', `segment ${seqs[i]} overlaps the seqs of segment ${prev.firstSeq}`);
    }
    const scan = await scanSegment(dir, seqs[i]);
    const seg = scan.segment;
    const lost = scan.fileBytes - seg.size;
    const last = i === seqs.length - 1;
    // Older segments were sealed whole, so whatever stops them early is damage; in the last
    // one, only valid records after the stop tell damage from a write the crash cut short.
    const salvage =
      lost > 0 && last
        ? await salvageRecords(seg.path, seg.size, scan.fileBytes, seg.nextSeq - 1, (first) =>
            createSegmentFile(dir, first, syncDir),
          )
        : undefined;
    if (salvage?.records === 0) {
      await truncateFile(seg.path, seg.size);
      report.truncatedBytes = lost;
    } else if (lost > 0) {
      seg.garbageBytes = lost;
      report.skippedBytes += lost;
      report.corruptSegments++;
    }
    segments.push(seg);
    if (salvage && salvage.records > 0) {
      report.salvagedRecords = salvage.records;
      // Seqs between the damaged segment's last good record and the first salvaged one are gone.
      for (const s of salvage.segments) {
        report.skippedSeqs += s.firstSeq - segments.at(-1)!.nextSeq;
        segments.push(s);
      }
    }
  }
  const last = segments.at(-1);
  if (last === undefined) {
    segments.push(await createSegmentFile(dir, floor, syncDir));
    report.skippedSeqs = floor - 1;
  } else if (last.garbageBytes > 0 || last.nextSeq < floor) {
    // Appending after unreadable bytes would hide the new records, and appending at a seq
    // handed out before would reuse it: new messages go to a new segment from `floor` on.
    const start = Math.max(floor, last.nextSeq);
    report.skippedSeqs += start - last.nextSeq;
    if (last.count === 0 && last.garbageBytes === 0) {
      await unlink(last.path); // an empty file that would only shadow the gap
      segments.pop();
    }
    segments.push(await createSegmentFile(dir, start, syncDir));
  } else {
    last.handle = await openForAppend(last.path, 'a+');
  }
  return { segments, report };
}

/** Creates the file of a new, empty segment and opens it for appending. */
export async function createSegmentFile(dir: string, firstSeq: number, syncDir: boolean): Promise<Segment> {
  const seg = new Segment(dir, firstSeq);
  // 'ax+' fails if the file exists: a name clash means seq bookkeeping went wrong, never overwrite.
  seg.handle = await openForAppend(seg.path, 'ax+');
  try {
    // Without a directory fsync the new file's name may be lost on power failure.
    if (syncDir) await fsyncPath(dir);
  } catch (err) {
    await seg.handle.close();
    throw err;
  }
  return seg;
}

async function openForAppend(path: string, flags: 'a+' | 'ax+'): Promise<FileHandle> {
  return open(path, flags, 0o644);
}

async function truncateFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(size);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
