/**
 * Range replay for consumers catching up a client (`since`): messages with seq in
 * [max(from, firstSeq), to] whose topic matches the pattern, bounded by matches, messages
 * scanned and bytes, so one request never holds the loop or memory for long. One
 * implementation for the /popmsg link (`replay` frames) and the embedded home (replay()).
 */
import { matchesPattern, type QueueMessage } from '@wsq/core';
import type { Journal } from '../journal/journal.js';
import { toQueueMessage, wireBytes } from './link-frames.js';

export interface ReplayRequest {
  from: number;
  to: number;
  pattern?: string;
  /** Most matching messages to return. */
  limit: number;
}

export interface ReplayLimits {
  scanMessages: number;
  batchBytes: number;
  readBatchMessages: number;
}

export interface ReplayAnswer {
  msgs: QueueMessage[];
  /** Oldest retained seq when the replay started. */
  first: number;
  /** True when the range was cut short; continue from `next`. */
  more: boolean;
  /** The first seq not examined (last scanned + 1): where a follow-up replay starts. */
  next: number;
}

export async function replayRange(journal: Journal, req: ReplayRequest, limits: ReplayLimits): Promise<ReplayAnswer> {
  const first = journal.firstSeq;
  const to = Math.min(req.to, journal.lastSeq);
  let next = Math.max(req.from, first);
  const msgs: QueueMessage[] = [];
  let scanned = 0;
  let bytes = 0;
  const full = (): boolean => msgs.length >= req.limit || scanned >= limits.scanMessages || bytes >= limits.batchBytes;
  while (next <= to && !full()) {
    const want = Math.min(limits.readBatchMessages, limits.scanMessages - scanned, to - next + 1);
    const batch = await journal.read(next, want, limits.batchBytes);
    if (batch.length === 0) break;
    for (const m of batch) {
      if (full()) break;
      if (m.seq > to) {
        next = to + 1; // a gap (lost segment) reaches past the range
        break;
      }
      scanned++;
      next = m.seq + 1;
      if (req.pattern === undefined || matchesPattern(req.pattern, m.topic)) {
        msgs.push(toQueueMessage(m));
        bytes += wireBytes(m);
      }
    }
    // Retention may have moved past `next` while we read.
    next = Math.max(next, journal.firstSeq);
  }
  return { msgs, first, more: next <= to, next };
}
