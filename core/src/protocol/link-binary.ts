/**
 * The binary frames of the internal link: the three that carry messages (`append`,
 * `appended`, `msgs`) and so run once per batch on every hop. Everything else on the link is
 * JSON text (link.ts). Layout in docs/protocol.md §5; all integers big-endian:
 *
 *   append    u8 1 | f64 ref | u32 count | u8 producer length (0 or 12) | producer
 *             | count × (u8 flags | f64 ts | u8 topic length | topic
 *                        | [u16 pid length | pid] or [f64 counter] | u32 data length | data)
 *   appended  u8 2 | f64 ref | u32 count | count × f64 seq
 *   msgs      u8 3 | u32 count | count × (f64 seq | f64 ts | u8 topic length | topic
 *                                         | u32 data length | data)
 *
 * Topics are printable ASCII of at most 255 characters (topics.ts), so a byte holds their
 * length and they are copied char by char; pid and data are UTF-8. Compared with JSON text,
 * no hop escapes the payload's quotes or scans it for the end of a string, and no large
 * intermediate string is built before the socket write.
 */
import { ProtocolError } from './errors.js';
import { isProducerId, MAX_PID_COUNTER } from './generated-pid.js';
import { isJsonText, isNonNegativeInt } from './json.js';
import type { LinkAppendItem, LinkMessage } from './link-items.js';
import { isValidTopic } from './topics.js';

export const BINARY_APPEND = 1;
export const BINARY_APPENDED = 2;
export const BINARY_MSGS = 3;

const FLAG_PID = 1;
/**
 * The pid is written as a JSON string literal: UTF-8 cannot carry a lone surrogate (a client
 * id may hold one), and replacing it would make two different ids one pid.
 */
const FLAG_PID_JSON = 2;
/** A generated pid: the frame's producer and this counter (generated-pid.ts), 8 bytes instead of ~24. */
const FLAG_PID_COUNTER = 4;
const LONE_SURROGATE = /\p{Surrogate}/u;
/** Longest pid a producer may send, in characters (user name, NUL, client id). */
const MAX_PID_LENGTH = 512;
const MAX_TOPIC_BYTES = 255;

function bad(message: string): ProtocolError {
  return new ProtocolError('BAD_FRAME', message);
}

/** Copies an ASCII topic (checked by the caller's validation) and its length byte; returns the end. */
function writeTopic(buf: Buffer, p: number, topic: string): number {
  const n = topic.length;
  if (n === 0 || n > MAX_TOPIC_BYTES) throw new RangeError(`topic of ${n} characters cannot be encoded`);
  buf[p++] = n;
  for (let i = 0; i < n; i++) {
    const c = topic.charCodeAt(i);
    if (c > 0x7e) throw new RangeError('topic is not ASCII');
    buf[p + i] = c;
  }
  return p + n;
}

/** Writes `s` as UTF-8 after a length field of `lenBytes` (2 or 4) filled in afterwards. */
function writeString(buf: Buffer, p: number, s: string, lenBytes: 2 | 4): number {
  const n = buf.write(s, p + lenBytes);
  if (lenBytes === 2) buf.writeUInt16BE(n, p);
  else buf.writeUInt32BE(n, p);
  return p + lenBytes + n;
}

/**
 * Room for `s` in UTF-8 at most: three bytes per UTF-16 unit. Sizing by the bound instead of
 * measuring every string saves a pass over each payload; the frame is a slice of the buffer.
 */
function maxUtf8(s: string): number {
  return s.length * 3;
}

/**
 * An append frame. `producer` (12 base64url characters) is required when an item carries a
 * counter instead of a pid.
 */
export function encodeAppend(ref: number, msgs: readonly LinkAppendItem[], producer?: string): Buffer {
  const producerLength = producer === undefined ? 0 : producer.length;
  if (producer !== undefined && !isProducerId(producer))
    throw new RangeError('producer id must be 12 base64url characters');
  let size = 14 + producerLength;
  // A pid sent as JSON text grows to at most 6 ASCII characters per unit (\uXXXX) plus quotes.
  for (const m of msgs)
    size += 20 + m.topic.length + maxUtf8(m.data) + (m.pid === undefined ? 8 : 4 + 6 * m.pid.length);
  const buf = Buffer.allocUnsafe(size);
  buf[0] = BINARY_APPEND;
  buf.writeDoubleBE(ref, 1);
  buf.writeUInt32BE(msgs.length, 9);
  buf[13] = producerLength;
  if (producer !== undefined) buf.write(producer, 14, 'latin1');
  let p = 14 + producerLength;
  for (const m of msgs) {
    const flagsAt = p;
    buf[flagsAt] = 0;
    buf.writeDoubleBE(m.ts, p + 1);
    p = writeTopic(buf, p + 9, m.topic);
    if (m.pid !== undefined) {
      const json = LONE_SURROGATE.test(m.pid);
      buf[flagsAt] = json ? FLAG_PID | FLAG_PID_JSON : FLAG_PID;
      p = writeString(buf, p, json ? JSON.stringify(m.pid) : m.pid, 2);
    } else if (m.counter !== undefined) {
      if (producer === undefined) throw new RangeError("an item with a counter needs the frame's producer");
      buf[flagsAt] = FLAG_PID_COUNTER;
      p = buf.writeDoubleBE(m.counter, p);
    }
    p = writeString(buf, p, m.data, 4);
  }
  return buf.subarray(0, p);
}

export function encodeAppended(ref: number, seqs: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(13 + 8 * seqs.length);
  buf[0] = BINARY_APPENDED;
  buf.writeDoubleBE(ref, 1);
  buf.writeUInt32BE(seqs.length, 9);
  let p = 13;
  for (const seq of seqs) p = buf.writeDoubleBE(seq, p);
  return buf;
}

/** A msgs item's bytes besides its topic and data: seq, ts, topic length, data length. */
const ITEM_BYTES = 21;

export function encodeMsgs(msgs: readonly LinkMessage[]): Buffer {
  let size = 0;
  for (const m of msgs) size += ITEM_BYTES + m.topic.length + maxUtf8(m.data);
  const frame = new MsgsFrameBuilder(size);
  for (const m of msgs) frame.addMessage(m);
  return frame.finish();
}

/**
 * Builds a msgs frame, the one writer of its layout: from decoded messages (encodeMsgs), or
 * from fields that are already bytes, as the msgqueue copies seq, ts, topic and payload out of
 * its journal records without decoding them into strings.
 */
export class MsgsFrameBuilder {
  private readonly buf: Buffer;
  private p = 5;
  private count = 0;

  /** `bytes`: at least what the messages to add take, ITEM_BYTES (21) each plus their topic and data. */
  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafe(5 + bytes);
    this.buf[0] = BINARY_MSGS;
  }

  /**
   * Adds one message: its ts is the big-endian f64 at `tsAt` in `src`, its topic the
   * `topicLen` (≤ 255) bytes at `topicAt`, its data the `dataLen` bytes at `dataAt`.
   */
  add(
    seq: number,
    src: Buffer,
    tsAt: number,
    topicAt: number,
    topicLen: number,
    dataAt: number,
    dataLen: number,
  ): void {
    const b = this.buf;
    let p = this.p;
    b.writeDoubleBE(seq, p);
    for (let i = 0; i < 8; i++) b[p + 8 + i] = src[tsAt + i];
    b[p + 16] = topicLen;
    p += 17;
    for (let i = 0; i < topicLen; i++) b[p + i] = src[topicAt + i];
    p = b.writeUInt32BE(dataLen, p + topicLen);
    if (dataLen <= SMALL_COPY) for (let i = 0; i < dataLen; i++) b[p + i] = src[dataAt + i];
    else src.copy(b, p, dataAt, dataAt + dataLen);
    this.p = p + dataLen;
    this.count++;
  }

  /** Adds one decoded message (topic ASCII, data as UTF-8). */
  addMessage(m: LinkMessage): void {
    const b = this.buf;
    b.writeDoubleBE(m.seq, this.p);
    b.writeDoubleBE(m.ts, this.p + 8);
    this.p = writeString(b, writeTopic(b, this.p + 16, m.topic), m.data, 4);
    this.count++;
  }

  finish(): Buffer {
    this.buf.writeUInt32BE(this.count, 1);
    return this.buf.subarray(0, this.p);
  }
}

/** Whether buf[at, end) is ASCII, which is also UTF-8 that decodes byte for byte (latin1Slice). */
function isAscii(buf: Buffer, at: number, end: number): boolean {
  for (let i = at; i < end; i++) if (buf[i] > 0x7f) return false;
  return true;
}

/**
 * Whether buf[at, end) is `"…"` holding only printable ASCII other than `"` and `\`: a JSON
 * string that needs no parse (the bytes PLAIN_JSON_CHARS accepts, restricted to ASCII).
 */
function isPlainAsciiJsonString(buf: Buffer, at: number, end: number): boolean {
  if (end - at < 2 || buf[at] !== 0x22 || buf[end - 1] !== 0x22) return false;
  for (let i = at + 1; i < end - 1; i++) {
    const c = buf[i];
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** Up to this many bytes a loop copies faster than Buffer#copy (50–65 ns whatever the size; a loop takes about 1 ns a byte). */
const SMALL_COPY = 24;

/**
 * Reads a binary frame field by field; every read is bounds-checked, so a short or
 * malformed frame ends in BAD_FRAME rather than a RangeError or a misread.
 */
class Reader {
  p = 0;
  private lastTopic = '';
  private lastTopicAt = 0;
  private lastTopicLength = -1;
  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}

  need(n: number): number {
    const at = this.p;
    if (at + n > this.buf.length) throw bad(`${this.what} frame is truncated`);
    this.p = at + n;
    return at;
  }
  u8(): number {
    return this.buf[this.need(1)];
  }
  u16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }
  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  /** A non-negative safe integer stored as f64 (seq, ts, ref). */
  int(field: string): number {
    const v = this.buf.readDoubleBE(this.need(8));
    if (!isNonNegativeInt(v)) throw bad(`${field} must be a non-negative integer`);
    return v;
  }
  /** `n` items follow, each at least `minBytes` long: refuses counts the frame cannot hold. */
  count(minBytes: number): number {
    const n = this.u32();
    if (n === 0) throw bad(`${this.what} frame carries no messages`);
    if (n * minBytes > this.buf.length - this.p) throw bad(`${this.what} frame is truncated`);
    return n;
  }
  /**
   * A topic. A batch mostly repeats its topics, so when the bytes equal the previous topic's
   * the previous string is returned (no new string, and the caller's `!==` check is skipped).
   */
  topic(): string {
    const n = this.u8();
    const at = this.need(n);
    const b = this.buf;
    if (n === this.lastTopicLength) {
      const last = this.lastTopicAt;
      let i = 0;
      while (i < n && b[at + i] === b[last + i]) i++;
      if (i === n) {
        this.lastTopicAt = at;
        return this.lastTopic;
      }
    }
    this.lastTopic = b.toString('latin1', at, at + n);
    this.lastTopicAt = at;
    this.lastTopicLength = n;
    return this.lastTopic;
  }
  utf8(n: number): string {
    const at = this.need(n);
    const b = this.buf;
    if (isAscii(b, at, at + n)) return b.toString('latin1', at, at + n);
    const s = b.toString('utf8', at, at + n);
    // Bytes that are not UTF-8 decode to U+FFFD; a genuine U+FFFD is rare, so only then look closer.
    if (s.includes('\uFFFD') && !Buffer.from(s, 'utf8').equals(b.subarray(at, at + n))) {
      throw new ProtocolError('BAD_FRAME', `${this.what} frame holds text that is not UTF-8`);
    }
    return s;
  }
  /**
   * A payload: JSON text (subscribers splice it into client frames as it is). The common
   * payload, a JSON string of printable ASCII without escapes, is recognised on the bytes —
   * that one pass proves it UTF-8 and JSON text, half the cost of decoding and then testing it.
   */
  data(): string {
    const n = this.u32();
    const at = this.p;
    if (at + n <= this.buf.length && isPlainAsciiJsonString(this.buf, at, at + n)) {
      this.p = at + n;
      return this.buf.toString('latin1', at, at + n);
    }
    const text = this.utf8(n);
    if (!isJsonText(text)) throw bad(`${this.what} frame holds a payload that is not JSON text`);
    return text;
  }
  /** A JSON string literal of `n` bytes. */
  jsonString(n: number): string {
    let v: unknown;
    try {
      v = JSON.parse(this.utf8(n));
    } catch {
      throw bad(`${this.what} frame holds a broken JSON string`);
    }
    if (typeof v !== 'string') throw bad(`${this.what} frame holds a broken JSON string`);
    return v;
  }
  end(): void {
    if (this.p !== this.buf.length) throw bad(`${this.what} frame has trailing bytes`);
  }
}

/** Opens a frame that starts with a ref and a count (append, appended): its reader, past both. */
function withRef(buf: Buffer, what: string, minItemBytes: number): { r: Reader; ref: number; n: number } {
  const r = new Reader(buf, what);
  r.need(1); // the frame kind, checked by the caller's dispatch
  const ref = r.int('ref');
  return { r, ref, n: r.count(minItemBytes) };
}

/** Decodes a producer's append frame, checking every field: the queue trusts no peer. */
export function decodeAppend(buf: Buffer): { ref: number; msgs: LinkAppendItem[]; producer?: string } {
  const { r, ref, n } = withRef(buf, 'append', 15);
  const producerLength = r.u8();
  let producer: string | undefined;
  if (producerLength !== 0) {
    const at = r.need(producerLength);
    producer = buf.toString('latin1', at, at + producerLength);
    if (!isProducerId(producer)) throw bad('producer must be 12 base64url characters');
  }
  const msgs = new Array<LinkAppendItem>(n);
  let validTopic: string | undefined; // a batch mostly repeats its topics: the last valid one is not checked again
  for (let i = 0; i < n; i++) {
    const flags = r.u8();
    if (flags !== 0 && flags !== FLAG_PID && flags !== (FLAG_PID | FLAG_PID_JSON) && flags !== FLAG_PID_COUNTER)
      throw bad('unknown append item flags');
    const ts = r.int('ts');
    const topic = r.topic();
    if (topic !== validTopic) {
      if (!isValidTopic(topic)) throw new ProtocolError('BAD_TOPIC', 'invalid topic in append');
      validTopic = topic;
    }
    if (flags === FLAG_PID_COUNTER) {
      if (producer === undefined) throw bad("a counter needs the frame's producer");
      const counter = r.int('counter');
      if (counter > MAX_PID_COUNTER) throw bad('counter is too large');
      msgs[i] = { topic, data: r.data(), ts, counter };
    } else if (flags !== 0) {
      const pid = flags === FLAG_PID ? r.utf8(r.u16()) : r.jsonString(r.u16());
      if (pid.length > MAX_PID_LENGTH) throw bad('pid must be a short string');
      msgs[i] = { topic, data: r.data(), ts, pid };
    } else {
      msgs[i] = { topic, data: r.data(), ts };
    }
  }
  r.end();
  return producer === undefined ? { ref, msgs } : { ref, msgs, producer };
}

/** Decodes the queue's answer to an append (the queue is TLS-verified: checks stay structural). */
export function decodeAppended(buf: Buffer): { ref: number; seqs: number[] } {
  const { r, ref, n } = withRef(buf, 'appended', 8);
  const seqs = new Array<number>(n);
  for (let i = 0; i < n; i++) seqs[i] = r.int('seq');
  r.end();
  return { ref, seqs };
}

export function decodeMsgs(buf: Buffer): LinkMessage[] {
  const r = new Reader(buf, 'msgs');
  r.need(1);
  const n = r.count(22);
  const msgs = new Array<LinkMessage>(n);
  for (let i = 0; i < n; i++) {
    const seq = r.int('seq');
    const ts = r.int('ts');
    const topic = r.topic();
    msgs[i] = { seq, topic, data: r.utf8(r.u32()), ts };
  }
  r.end();
  return msgs;
}

/** The ref of an append frame too broken to decode, when its header is readable. */
export function appendRefOf(buf: Buffer): number | undefined {
  if (buf.length < 9 || buf[0] !== BINARY_APPEND) return undefined;
  const ref = buf.readDoubleBE(1);
  return isNonNegativeInt(ref) ? ref : undefined;
}
