/**
 * The internal link between publisher/subscriber and the msgqueue (subprotocol
 * `wsq.link.v3`), documented in docs/protocol.md. The frames that carry messages (append,
 * appended, msgs) are binary (link-binary.ts); the rest are JSON text frames. Message payloads
 * travel as JSON text that no hop parses.
 *
 *   producer -> queue   append   {ref, producer?, msgs:[{topic,data,ts,pid?|counter?}]}
 *   queue -> producer   appended {ref, seqs:[…]}           once journaled (duplicates: original seq)
 *   consumer -> queue   consume  {name, window}             durable cursor; window = max unacked messages
 *   queue -> consumer   consuming {name, next, first, last}
 *   queue -> consumer   msgs     {msgs:[{seq,topic,data,ts}]}
 *   consumer -> queue   ack      {seq}                      cumulative; frees window and moves the cursor
 *   consumer -> queue   replay   {ref, from, to, pattern?, limit}
 *   queue -> consumer   replayed {ref, msgs, first, more, next}   next = first seq not yet scanned
 *   consumer -> queue   seek     {ref, ts}                  ts in ms since the epoch
 *   queue -> consumer   sought   {ref, seq}                 first retained seq with ts >= ts, else last + 1
 *   queue -> either     error    {ref?, code, message}
 */
import { ProtocolError, type FrameErrorCode } from './errors.js';
import { isNonNegativeInt, parseObject, type JsonObject } from './json.js';
import {
  BINARY_APPEND,
  BINARY_APPENDED,
  BINARY_MSGS,
  decodeAppend,
  decodeAppended,
  decodeMsgs,
  encodeAppend,
  encodeAppended,
  encodeMsgs,
} from './link-binary.js';
import { isValidPattern } from './topics.js';
import type { LinkAppendItem, LinkMessage } from './link-items.js';

export type { LinkAppendItem, LinkMessage } from './link-items.js';

export const LINK_PROTOCOL = 'wsq.link.v3';
/** A link frame: JSON text, or bytes for the binary frames. */
export type LinkFrame = string | Buffer;

/** A received WebSocket message as the link decoders take it: text frames as strings, binary ones as bytes. */
export function receivedFrame(data: Buffer, isBinary: boolean): LinkFrame {
  return isBinary ? data : data.toString();
}
export const MAX_CONSUMER_NAME_LENGTH = 128;

export type LinkRequest =
  | { op: 'append'; ref: number; msgs: LinkAppendItem[]; producer?: string }
  | { op: 'consume'; name: string; window: number }
  | { op: 'ack'; seq: number }
  | { op: 'replay'; ref: number; from: number; to: number; pattern?: string; limit: number }
  | { op: 'seek'; ref: number; ts: number };

export type LinkReply =
  | { op: 'appended'; ref: number; seqs: number[] }
  | { op: 'consuming'; name: string; next: number; first: number; last: number }
  | { op: 'msgs'; msgs: LinkMessage[] }
  | { op: 'replayed'; ref: number; msgs: LinkMessage[]; first: number; more: boolean; next: number }
  | { op: 'sought'; ref: number; seq: number }
  | { op: 'error'; ref?: number; code: FrameErrorCode; message: string };

function bad(message: string): ProtocolError {
  return new ProtocolError('BAD_FRAME', message);
}

function int(obj: JsonObject, key: string): number {
  const v = obj[key];
  if (!isNonNegativeInt(v)) throw bad(`${key} must be a non-negative integer`);
  return v;
}

/** Decodes what producers and consumers send to the msgqueue (text frames as strings). */
export function decodeLinkRequest(frame: LinkFrame): LinkRequest {
  if (typeof frame !== 'string') {
    if (frame[0] !== BINARY_APPEND) throw bad('unknown binary link frame');
    return { op: 'append', ...decodeAppend(frame) };
  }
  const obj = parseObject(frame);
  switch (obj.op) {
    case 'append':
      throw bad('append is a binary frame on ' + LINK_PROTOCOL);
    case 'consume': {
      const name = obj.name;
      if (typeof name !== 'string' || name.length === 0 || name.length > MAX_CONSUMER_NAME_LENGTH) {
        throw bad(`name must be a string of 1-${MAX_CONSUMER_NAME_LENGTH} characters`);
      }
      const window = int(obj, 'window');
      if (window === 0) throw bad('window must be positive');
      return { op: 'consume', name, window };
    }
    case 'ack':
      return { op: 'ack', seq: int(obj, 'seq') };
    case 'replay': {
      const req: LinkRequest = {
        op: 'replay',
        ref: int(obj, 'ref'),
        from: int(obj, 'from'),
        to: int(obj, 'to'),
        limit: int(obj, 'limit'),
      };
      if (obj.pattern !== undefined) {
        if (!isValidPattern(obj.pattern)) throw new ProtocolError('BAD_TOPIC', 'invalid replay pattern');
        req.pattern = obj.pattern;
      }
      return req;
    }
    case 'seek':
      return { op: 'seek', ref: int(obj, 'ref'), ts: int(obj, 'ts') };
    default:
      throw bad('unknown link op');
  }
}

/** Decodes what the msgqueue sends. The queue is trusted (TLS-verified), so checks are light. */
export function decodeLinkReply(frame: LinkFrame): LinkReply {
  if (typeof frame !== 'string') {
    switch (frame[0]) {
      case BINARY_APPENDED:
        return { op: 'appended', ...decodeAppended(frame) };
      case BINARY_MSGS:
        return { op: 'msgs', msgs: decodeMsgs(frame) };
      default:
        throw bad('unknown binary link frame');
    }
  }
  const obj = parseObject(frame);
  switch (obj.op) {
    case 'consuming':
    case 'replayed':
    case 'sought':
    case 'error':
      return obj as unknown as LinkReply;
    default:
      throw bad('unknown link reply op');
  }
}

/** Encodes a link frame: append, appended and msgs as bytes (sent as binary frames), the rest as JSON text. */
export function encodeLink(frame: LinkRequest | LinkReply): LinkFrame {
  switch (frame.op) {
    case 'append':
      return encodeAppend(frame.ref, frame.msgs, frame.producer);
    case 'appended':
      return encodeAppended(frame.ref, frame.seqs);
    case 'msgs':
      return encodeMsgs(frame.msgs);
    default:
      return JSON.stringify(frame);
  }
}
