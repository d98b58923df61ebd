// Opening a journal directory after a clean stop or a crash: find the segments, keep
// every valid record, cut a torn tail off the last segment, and hand back an active
// segment ready for appending.

import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { JournalError } from './record.js';
import { listSegmentSeqs, scanSegment, Segment } from './segment.js';

export interface RecoveryReport {
  /** Bytes cut off the end of the last segment (a torn or corrupt tail). */
  truncatedBytes: number;
  /** Bytes after a corrupt record in older segments: unreadable, left on disk for inspection. */
  skippedBytes: number;
  /** Older segments that stopped early at a corrupt or missing record. */
  corruptSegments: number;
}

export interface RecoveredSegments {
  /** Ascending; the last one is open for appending (`handle` set). */
  segments: Segment[];
  report: RecoveryReport;
}

export async function recoverSegments(dir: string, syncDir: boolean): Promise<RecoveredSegments> {
  await mkdir(dir, { recursive: true });
  const seqs = await listSegmentSeqs(dir);
  const report: RecoveryReport = { truncatedBytes: 0, skippedBytes: 0, corruptSegments: 0 };
  const segments: Segment[] = [];
  for (let i = 0; i < seqs.length; i++) {
    const prev = segments.at(-1);
    if (prev && seqs[i] < prev.nextSeq) {
      throw new JournalError('JOURNAL_CORRUPT', `segment ${seqs[i]} overlaps the seqs of segment ${prev.firstSeq}`);
    }
    const scan = await scanSegment(dir, seqs[i]);
    const lost = scan.fileBytes - scan.segment.size;
    if (i === seqs.length - 1) {
      if (lost > 0) await truncateFile(scan.segment.path, scan.segment.size);
      report.truncatedBytes = lost;
    } else if (lost > 0) {
      scan.segment.garbageBytes = lost;
      report.skippedBytes += lost;
      report.corruptSegments++;
    }
    segments.push(scan.segment);
  }
  if (segments.length === 0) {
    segments.push(await createSegmentFile(dir, 1, syncDir));
  } else {
    const last = segments[segments.length - 1];
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
