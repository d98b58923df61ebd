/**
 * The `wsq.v1` client protocol (DESIGN 3.2): one JSON object per text frame, discriminated
 * by `op`. Pure codecs: no sockets, table-driven tests in core/test/v1.test.ts.
 */
import { ProtocolError, type FrameErrorCode } from './errors.js';
import { isNonNegativeInt, parseObject, PLAIN_JSON_CHARS, quote, type JsonObject } from './json.js';
import { isValidPattern, isValidTopic } from './topics.js';

export const V1_PROTOCOL = 'wsq.v1';
export const MAX_ID_LENGTH = 128;

export interface PubFrame {
  op: 'pub';
  topic: string;
  /** The `data` value re-serialised as JSON text; the payload is never parsed again. */
  data: string;
  id?: string;
}
export interface SubFrame {
  op: 'sub';
  topic: string;
  id?: string;
  since?: number;
}
export interface UnsubFrame {
  op: 'unsub';
  topic: string;
  id?: string;
}
export type ClientFrame = PubFrame | SubFrame | UnsubFrame;

export interface AckFrame {
  op: 'ack';
  id: string;
  seq: number;
}
export interface SubscribedFrame {
  op: 'subscribed';
  id?: string;
  topic: string;
  seq: number;
  recovered?: boolean;
}
export interface UnsubscribedFrame {
  op: 'unsubscribed';
  id?: string;
  topic: string;
}
export interface MsgFrame {
  op: 'msg';
  topic: string;
  seq: number;
  data: unknown;
  ts: number;
}
export interface ErrorFrame {
  op: 'error';
  id?: string;
  code: FrameErrorCode;
  message: string;
}
export type ServerFrame = AckFrame | SubscribedFrame | UnsubscribedFrame | MsgFrame | ErrorFrame;

function readId(obj: JsonObject): string | undefined {
  const id = obj.id;
  if (id === undefined) return undefined;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new ProtocolError('BAD_FRAME', `id must be a string of 1-${MAX_ID_LENGTH} characters`);
  }
  return id;
}

function withId<T extends object>(frame: T, id: string | undefined): T & { id?: string } {
  return id === undefined ? frame : { ...frame, id };
}

/**
 * `{"op":"pub","topic":"…","data":"…"}`, optionally with `,"id":"…"` last, and nothing JSON
 * escapes in any of the strings: what most clients send (JSON.stringify keeps the keys in
 * the order they were written). Such a frame is sliced instead of parsed; its `data` text is
 * what JSON.stringify(JSON.parse(data)) gives, as the text came from a UTF-8 frame.
 */
const CANONICAL_PUB = new RegExp(
  `^\\{"op":"pub","topic":"${PLAIN_JSON_CHARS}","data":"${PLAIN_JSON_CHARS}"(?:,"id":"${PLAIN_JSON_CHARS}")?\\}$`,
);
const PUB_TOPIC_START = '{"op":"pub","topic":"'.length;
/** From the `"` closing the topic to the `"` opening the data: `","data":`. */
const PUB_TO_DATA = '","data":'.length;
/** From just past the `"` closing the data to the first character of the id: `,"id":"`. */
const PUB_TO_ID = ',"id":"'.length;

/** The canonical pub frame's fields, or undefined for anything that needs the general path. */
function sliceCanonicalPub(text: string): PubFrame | undefined {
  if (!CANONICAL_PUB.test(text)) return undefined;
  const topicEnd = text.indexOf('"', PUB_TOPIC_START);
  const topic = text.slice(PUB_TOPIC_START, topicEnd);
  if (!isValidTopic(topic)) return undefined; // the general path words the refusal
  const dataStart = topicEnd + PUB_TO_DATA;
  const dataEnd = text.indexOf('"', dataStart + 1) + 1;
  const data = text.slice(dataStart, dataEnd);
  if (dataEnd === text.length - 1) return { op: 'pub', topic, data };
  const id = text.slice(dataEnd + PUB_TO_ID, text.length - 2);
  if (id.length === 0 || id.length > MAX_ID_LENGTH) return undefined;
  return { op: 'pub', topic, data, id };
}

/** Decodes a client frame. Throws ProtocolError carrying the frame's id when it had a valid one. */
export function decodeClientFrame(text: string): ClientFrame {
  return sliceCanonicalPub(text) ?? parseClientFrame(text);
}

/** decodeClientFrame without the canonical-pub shortcut: every frame parsed (exported for its tests). */
export function parseClientFrame(text: string): ClientFrame {
  const obj = parseObject(text);
  const id = readId(obj);
  try {
    return decodeOp(obj, id);
  } catch (err) {
    if (err instanceof ProtocolError && id !== undefined) {
      throw new ProtocolError(err.code, err.message, id);
    }
    throw err;
  }
}

function decodeOp(obj: JsonObject, id: string | undefined): ClientFrame {
  const op = obj.op as ClientFrame['op'];
  switch (op) {
    case 'pub': {
      const topic = needTopic(obj);
      if (!isValidTopic(topic)) throw badTopic('topic');
      if (!('data' in obj)) throw new ProtocolError('BAD_FRAME', 'pub needs data');
      return withId({ op, topic, data: dataText(obj.data) }, id);
    }
    case 'sub': {
      const topic = needTopic(obj);
      if (!isValidPattern(topic)) throw badTopic('subscription pattern');
      const frame: SubFrame = withId({ op, topic }, id);
      if (obj.since !== undefined) {
        if (!isNonNegativeInt(obj.since)) {
          throw new ProtocolError('BAD_FRAME', 'since must be a non-negative integer');
        }
        frame.since = obj.since;
      }
      return frame;
    }
    case 'unsub': {
      const topic = needTopic(obj);
      if (!isValidPattern(topic)) throw badTopic('subscription pattern');
      return withId({ op, topic }, id);
    }
    default:
      throw new ProtocolError('BAD_FRAME', `unknown op ${JSON.stringify(obj.op) ?? 'undefined'}`);
  }
}

/** The frame's `topic`, which must be a string: a missing or mistyped field is a bad frame. */
function needTopic(obj: JsonObject): string {
  if (typeof obj.topic !== 'string') throw new ProtocolError('BAD_FRAME', `${String(obj.op)} needs a topic string`);
  return obj.topic;
}

/**
 * `data` as JSON text. JSON.parse takes any depth but JSON.stringify recurses, so data nested
 * deeper than the stack allows (a few thousand levels) is refused as a bad frame.
 */
function dataText(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    if (err instanceof RangeError) throw new ProtocolError('BAD_FRAME', 'data is nested too deeply');
    throw err;
  }
}

function badTopic(what: string): ProtocolError {
  return new ProtocolError(
    'BAD_TOPIC',
    `${what} must be 1-255 printable ASCII characters without spaces, tokens separated by "."`,
  );
}

export function encodeAck(id: string, seq: number): string {
  return `{"op":"ack","id":${quote(id)},"seq":${seq}}`;
}

export function encodeSubscribed(f: Omit<SubscribedFrame, 'op'>): string {
  return JSON.stringify({ op: 'subscribed', ...f });
}

export function encodeUnsubscribed(f: Omit<UnsubscribedFrame, 'op'>): string {
  return JSON.stringify({ op: 'unsubscribed', ...f });
}

/** `data` is already JSON text: it is spliced in, not re-encoded. */
export function encodeMsg(topic: string, seq: number, data: string, ts: number): string {
  return `{"op":"msg","topic":${quote(topic)},"seq":${seq},"data":${data},"ts":${ts}}`;
}

export function encodeError(code: FrameErrorCode, message: string, id?: string): string {
  return JSON.stringify(id === undefined ? { op: 'error', code, message } : { op: 'error', id, code, message });
}

/** Decodes what a server sends (used by clientdemo, bench and tests). */
export function decodeServerFrame(text: string): ServerFrame {
  const obj = parseObject(text);
  switch (obj.op) {
    case 'ack':
    case 'subscribed':
    case 'unsubscribed':
    case 'msg':
    case 'error':
      return obj as unknown as ServerFrame;
    default:
      throw new ProtocolError('BAD_FRAME', 'unknown server op');
  }
}
