/**
 * Small pieces shared by the link handlers: error frames, the ref of a frame that failed to
 * decode, journal errors mapped to wire codes, and the stored → wire message shape.
 */
import {
  appendRefOf,
  MsgsFrameBuilder,
  decodeLinkRequest,
  encodeLink,
  ProtocolError,
  receivedFrame,
  type BaseMetrics,
  type FrameErrorCode,
  type LinkRequest,
  type Logger,
  type QueueMessage,
} from '@wsq/core';
import type { WebSocket } from 'ws';
import { CursorStoreError } from '../consumers/cursors.js';
import { JournalError, type StoredMessage } from '../journal/journal.js';
import { recordLayout, type RecordLayout } from '../journal/record.js';
import type { CachedRecords } from '../journal/tail-cache.js';

export function sendError(ws: WebSocket, code: FrameErrorCode, message: string, ref?: number): void {
  ws.send(encodeLink(ref === undefined ? { op: 'error', code, message } : { op: 'error', ref, code, message }));
}

/** Answers one refused link frame: an error frame, counted, logged (loudly only when it is ours). */
export type Refuse = (err: unknown, ref?: number) => void;

export function linkRefuser(ws: WebSocket, endpoint: string, log: Logger, metrics: BaseMetrics, role: string): Refuse {
  return (err, ref) => {
    const code = errorCodeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'INTERNAL') log.error({ err, ref }, `${role} request failed`);
    else log.debug({ code, message, ref }, `${role} frame refused`);
    metrics.framesInvalid.inc({ path: endpoint, code });
    sendError(ws, code, message, ref);
  };
}

/** Decodes every frame as a link request; undecodable ones are refused with their ref. */
export function onLinkRequest(ws: WebSocket, refuse: Refuse, handle: (req: LinkRequest) => void): void {
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const frame = receivedFrame(data, isBinary);
    let req: LinkRequest;
    try {
      req = decodeLinkRequest(frame);
    } catch (err) {
      return refuse(err, refOf(frame));
    }
    handle(req);
  });
}

/** The `ref` of a frame that failed validation, when it had a usable one, so the peer can match the error. */
export function refOf(frame: string | Buffer): number | undefined {
  if (typeof frame !== 'string') return appendRefOf(frame);
  const text = frame;
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

const layout: RecordLayout = { seq: 0, tsAt: 0, topicAt: 0, topicLen: 0, dataAt: 0, dataLen: 0 };

/**
 * A msgs frame built from journal records by copying their fields: no message is decoded
 * into strings on its way from the tail cache to a consumer. The same bytes as
 * encodeLink({op: 'msgs', msgs}) of the decoded messages (a test holds them to it).
 */
export function encodeMsgsFromRecords(records: CachedRecords): Buffer {
  const { bufs, offs, count } = records;
  // A message takes fewer bytes in the frame than in its record (21 + topic + data against a
  // 29-byte header and body fields + topic + pid + data): the records' size bounds the frame.
  const frame = new MsgsFrameBuilder(records.bytes);
  for (let i = 0; i < count; i++) {
    const buf = bufs[i];
    const l = recordLayout(buf, offs[i], layout);
    frame.add(l.seq, buf, l.tsAt, l.topicAt, l.topicLen, l.dataAt, l.dataLen);
  }
  return frame.finish();
}

/** A stored message without its pid: the shape of link `msgs` and of the queue interface's QueueMessage. */
export function toQueueMessage(m: StoredMessage): QueueMessage {
  return { seq: m.seq, topic: m.topic, data: m.data, ts: m.ts };
}

/** Rough wire size of a message in a frame, for byte budgets. */
export function wireBytes(m: StoredMessage): number {
  return m.data.length + m.topic.length + 48;
}
