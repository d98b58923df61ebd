// Salvage: when a segment's records stop at a corrupt one but valid records follow it (damage
// on disk, or a power cut that wrote later pages and not earlier ones), those records are
// copied, byte for byte, into new segment files, so that what was written and acknowledged
// stays readable. The damaged file is left as it is, for inspection.

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { RECORD_HEADER_BYTES, RECORD_MAX_BODY_BYTES, checkRecordAt, recordSeq, recordTs } from './record.js';
import type { Segment } from './segment.js';

/** The smallest record: a header and a body with empty topic, pid and data. */
const MIN_RECORD_BYTES = RECORD_HEADER_BYTES + 13;
/** Bytes of the damaged file looked at per read while searching for records. */
const SEARCH_WINDOW_BYTES = 1024 * 1024;

export interface Salvage {
  /** New segments holding the records found, ascending, each closed and fsynced. */
  segments: Segment[];
  records: number;
}

/**
 * Finds every valid record in [from, end) of the file at `path` whose seq is above `aboveSeq`
 * and above the ones found before it, and copies them into segments made by `createSegment`:
 * one per run of consecutive seqs, named by its first. Looks at every byte offset, as a corrupt
 * record's length cannot be trusted to find the next one; only a header whose seq could follow
 * `aboveSeq` in this much file gets its record read and its CRC checked, so garbage costs a
 * header read per byte, in bounded windows, whatever the file's size.
 */
export async function salvageRecords(
  path: string,
  from: number,
  end: number,
  aboveSeq: number,
  createSegment: (firstSeq: number) => Promise<Segment>,
): Promise<Salvage> {
  const maxSeq = aboveSeq + Math.ceil((end - from) / MIN_RECORD_BYTES);
  const window = Buffer.allocUnsafe(SEARCH_WINDOW_BYTES);
  const out: Salvage = { segments: [], records: 0 };
  let run: Segment | undefined;
  const fh = await open(path, 'r');
  try {
    let highest = aboveSeq;
    let pos = from;
    while (pos + RECORD_HEADER_BYTES <= end) {
      const { bytesRead } = await fh.read(window, 0, Math.min(window.length, end - pos), pos);
      if (bytesRead < RECORD_HEADER_BYTES) break;
      // Nothing found: the next window starts at the first offset whose header this one cut.
      let next = pos + bytesRead - RECORD_HEADER_BYTES + 1;
      for (let off = 0; off + RECORD_HEADER_BYTES <= bytesRead; off++) {
        const seq = recordSeq(window, off);
        if (seq <= highest || seq > maxSeq) continue;
        const record = await recordAt(fh, pos + off, end);
        if (record === undefined) continue;
        if (run === undefined || seq !== run.nextSeq) {
          if (run) await seal(run);
          run = await createSegment(seq);
          out.segments.push(run);
        }
        await run.handle!.write(record); // the file is open for appending
        run.noteRecord(seq, record.length, recordTs(record, 0));
        out.records++;
        highest = seq;
        next = pos + off + record.length; // go on right after this record
        break;
      }
      pos = next;
    }
  } finally {
    await fh.close();
    if (run) await seal(run);
  }
  return out;
}

/** The valid record at `at`, read whole, or undefined if there is none there. */
async function recordAt(fh: FileHandle, at: number, end: number): Promise<Buffer | undefined> {
  const head = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  await fh.read(head, 0, RECORD_HEADER_BYTES, at);
  const size = RECORD_HEADER_BYTES + head.readUInt32BE(0);
  if (size > RECORD_HEADER_BYTES + RECORD_MAX_BODY_BYTES || at + size > end) return undefined;
  const buf = Buffer.allocUnsafe(size);
  const { bytesRead } = await fh.read(buf, 0, size, at);
  return checkRecordAt(buf, 0, bytesRead) === size ? buf : undefined;
}

/** A salvaged segment is complete once written: fsync it and close it. */
async function seal(seg: Segment): Promise<void> {
  const handle = seg.handle;
  seg.handle = undefined;
  if (!handle) return;
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
