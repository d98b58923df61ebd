/**
 * The internal link between publisher/subscriber and the msgqueue (subprotocol
 * `wsq.link.v1`), documented in docs/protocol.md. JSON text frames; message payloads travel
 * as JSON text inside a string so that no hop parses them.
 *
 *   producer -> queue   append   {ref, msgs:[{topic,data,ts,pid?}]}
 *   queue -> producer   appended {ref, seqs:[…]}           once journaled (duplicates: original seq)
 *   consumer -> queue   consume  {name, window}             durable cursor; window = max unacked messages
 *   queue -> consumer   consuming {name, next, first, last}
 *   queue -> consumer   msgs     {msgs:[{seq,topic,data,ts}]}
 *   consumer -> queue   ack      {seq}                      cumulative; frees window and moves the cursor
 *   consumer -> queue   replay   {ref, from, to, pattern?, limit}
 *   queue -> consumer   replayed {ref, msgs, first, more, next}   next = first seq not yet scanned
 *   queue -> either     error    {ref?, code, message}
 */
import { ProtocolError, type FrameErrorCode } from './errors.js';
import { isNonNegativeInt, parseObject, type JsonObject } from './json.js';
import { isValidPattern, isValidTopic } from './topics.js';

export const LINK_PROTOCOL = 'wsq.link.v1';
export const MAX_CONSUMER_NAME_LENGTH = 128;

export interface LinkAppendItem {
  topic: string;
  /** JSON text of the payload. */
  data: string;
  ts: number;
  /** Idempotency key (`user` + NUL + client id), when the publisher had one. */
  pid?: string;
}
export interface LinkMessage {
  seq: number;
  topic: string;
  data: string;
  ts: number;
}

export type LinkRequest =
  | { op: 'append'; ref: number; msgs: LinkAppendItem[] }
  | { op: 'consume'; name: string; window: number }
  | { op: 'ack'; seq: number }
  | { op: 'replay'; ref: number; from: number; to: number; pattern?: string; limit: number };

export type LinkReply =
  | { op: 'appended'; ref: number; seqs: number[] }
  | { op: 'consuming'; name: string; next: number; first: number; last: number }
  | { op: 'msgs'; msgs: LinkMessage[] }
  | { op: 'replayed'; ref: number; msgs: LinkMessage[]; first: number; more: boolean; next?: number }
  | { op: 'error'; ref?: number; code: FrameErrorCode; message: string };

function bad(message: string): ProtocolError {
  return new ProtocolError('BAD_FRAME', message);
}

function int(obj: JsonObject, key: string): number {
  const v = obj[key];
  if (!isNonNegativeInt(v)) throw bad(`${key} must be a non-negative integer`);
  return v;
}

function appendItem(v: unknown): LinkAppendItem {
  if (v === null || typeof v !== 'object') throw bad('append item must be an object');
  const o = v as JsonObject;
  if (!isValidTopic(o.topic)) throw new ProtocolError('BAD_TOPIC', 'invalid topic in append');
  if (typeof o.data !== 'string') throw bad('data must be JSON text in a string');
  const item: LinkAppendItem = { topic: o.topic, data: o.data, ts: int(o, 'ts') };
  if (o.pid !== undefined) {
    if (typeof o.pid !== 'string' || o.pid.length > 512) throw bad('pid must be a short string');
    item.pid = o.pid;
  }
  return item;
}

/** Decodes what producers and consumers send to the msgqueue. */
export function decodeLinkRequest(text: string): LinkRequest {
  const obj = parseObject(text);
  switch (obj.op) {
    case 'append': {
      if (!Array.isArray(obj.msgs) || obj.msgs.length === 0) throw bad('msgs must be a non-empty array');
      return { op: 'append', ref: int(obj, 'ref'), msgs: obj.msgs.map(appendItem) };
    }
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
    default:
      throw bad('unknown link op');
  }
}

/** Decodes what the msgqueue sends. The queue is trusted (TLS-verified), so checks are light. */
export function decodeLinkReply(text: string): LinkReply {
  const obj = parseObject(text);
  switch (obj.op) {
    case 'appended':
    case 'consuming':
    case 'msgs':
    case 'replayed':
    case 'error':
      return obj as unknown as LinkReply;
    default:
      throw bad('unknown link reply op');
  }
}

export function encodeLink(frame: LinkRequest | LinkReply): string {
  return JSON.stringify(frame);
}
