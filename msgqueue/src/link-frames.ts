/**
 * Small pieces shared by the link handlers: error frames, the ref of a frame that failed to
 * decode, journal errors mapped to wire codes, and the stored → wire message shape.
 */
import { encodeLink, ProtocolError, type FrameErrorCode, type LinkMessage } from '@wsq/core';
import type { WebSocket } from 'ws';
import { CursorStoreError } from './cursors.js';
import { JournalError, type StoredMessage } from './journal.js';

export function sendError(ws: WebSocket, code: FrameErrorCode, message: string, ref?: number): void {
  ws.send(encodeLink(ref === undefined ? { op: 'error', code, message } : { op: 'error', ref, code, message }));
}

/** The `ref` of a frame that failed validation, when it had a usable one, so the peer can match the error. */
export function refOf(text: string): number | undefined {
  try {
    const ref = (JSON.parse(text) as { ref?: unknown } | null)?.ref;
    return typeof ref === 'number' && Number.isSafeInteger(ref) && ref >= 0 ? ref : undefined;
  } catch {
    return undefined;
  }
}

/** What the peer is told when something it sent cannot be served. */
export function errorCodeOf(err: unknown): FrameErrorCode {
  if (err instanceof ProtocolError) return err.code;
  if (err instanceof JournalError) {
    switch (err.code) {
      case 'JOURNAL_OVERLOADED':
      case 'JOURNAL_CLOSED':
        return 'UNAVAILABLE'; // retry later (or at the next msgqueue)
      case 'RECORD_TOO_LARGE':
        return 'TOO_LARGE';
      case 'INVALID_ARGUMENT':
        return 'BAD_FRAME';
      case 'JOURNAL_IO':
      case 'JOURNAL_CORRUPT':
        return 'INTERNAL';
    }
  }
  if (err instanceof CursorStoreError) {
    if (err.code === 'LIMIT_EXCEEDED') return 'LIMIT_EXCEEDED';
    if (err.code === 'INVALID_ARGUMENT') return 'BAD_FRAME';
  }
  return 'INTERNAL';
}

export function toLinkMessage(m: StoredMessage): LinkMessage {
  return { seq: m.seq, topic: m.topic, data: m.data, ts: m.ts };
}

/** Rough wire size of a message in a frame, for byte budgets. */
export function wireBytes(m: StoredMessage): number {
  return m.data.length + m.topic.length + 48;
}
