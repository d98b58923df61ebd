import { encodeLegacyData, encodeMsg, putTextFrameHeader, textFrameHeaderBytes } from '@wsq/core';

/**
 * One delivery, encoded once and shared by every socket it goes to: the UTF-8 payload (for
 * `ws.send(payload, { binary: false })`, which does not copy) and the complete WebSocket text
 * frame (RFC 6455 §5.2). Server-to-client frames are not masked, so the same bytes are valid
 * on every connection and can be written straight to the TLS socket under `ws`.
 */
export class WireFrame {
  constructor(
    /** FIN + text opcode, unmasked length header, then the payload. */
    readonly bytes: Buffer,
    private readonly headerLength: number,
  ) {}

  /** The message text as UTF-8 (made on demand: raw sockets never need it). */
  get payload(): Buffer {
    return this.bytes.subarray(this.headerLength);
  }
}

/** Encodes `text` once as a text frame. */
export function textFrame(text: string): WireFrame {
  const length = Buffer.byteLength(text);
  const { bytes, header } = frameFor(length);
  bytes.write(text, header, 'utf8');
  return new WireFrame(bytes, header);
}

/** A buffer for a text frame of `length` payload bytes, its header written. */
function frameFor(length: number): { bytes: Buffer; header: number } {
  const bytes = Buffer.allocUnsafe(textFrameHeaderBytes(length) + length);
  return { bytes, header: putTextFrameHeader(bytes, 0, length) };
}

/** Printable ASCII but `"` and `\`: a topic copied byte for byte into a JSON string. */
const PLAIN_TOPIC = /^[!#-[\]-~]*$/;
const LEGACY_HEAD = Buffer.from('{"Topic":"');
const LEGACY_MIDDLE = Buffer.from('","Content":');
const MSG_HEAD = Buffer.from('{"op":"msg","topic":"');
const MSG_SEQ = Buffer.from('","seq":');
const MSG_DATA = Buffer.from(',"data":');
const MSG_TS = Buffer.from(',"ts":');

/** Decimal digits of a non-negative safe integer. */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes a non-negative safe integer in decimal, `d` digits long; returns the end. */
function putInt(bytes: Buffer, p: number, n: number, d: number): number {
  for (let i = d - 1; i >= 0; i--) {
    bytes[p + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return p + d;
}

/** Copies a short constant; a loop beats Buffer#copy below a few dozen bytes. */
function put(bytes: Buffer, p: number, part: Buffer): number {
  for (let i = 0; i < part.length; i++) bytes[p + i] = part[i];
  return p + part.length;
}

/** Copies a topic that PLAIN_TOPIC accepted (ASCII: one byte per character); returns the end. */
function putTopic(bytes: Buffer, p: number, topic: string): number {
  for (let i = 0; i < topic.length; i++) bytes[p + i] = topic.charCodeAt(i);
  return p + topic.length;
}

/**
 * The legacy frame `{"Topic":"…","Content":…}` written straight into the frame's buffer: the
 * same bytes as textFrame(encodeLegacyData(topic, data)) without building the text first.
 * For a JSON string `data` (what legacy and most v1 publishers send) and a topic that needs
 * no escaping; anything else goes the long way.
 */
export function legacyFrame(topic: string, data: string): WireFrame {
  if (data.charCodeAt(0) !== 0x22 || !PLAIN_TOPIC.test(topic)) return textFrame(encodeLegacyData(topic, data));
  const dataBytes = Buffer.byteLength(data);
  const { bytes, header } = frameFor(LEGACY_HEAD.length + topic.length + LEGACY_MIDDLE.length + dataBytes + 1);
  let p = putTopic(bytes, put(bytes, header, LEGACY_HEAD), topic);
  p = put(bytes, p, LEGACY_MIDDLE);
  p += bytes.write(data, p);
  bytes[p] = 0x7d; // }
  return new WireFrame(bytes, header);
}

/**
 * The v1 delivery `{"op":"msg","topic":"…","seq":…,"data":…,"ts":…}` written straight into the
 * frame's buffer: the same bytes as textFrame(encodeMsg(…)) without building the text first,
 * for a topic that needs no escaping and integer seq and ts (anything else goes the long way).
 */
export function msgFrame(topic: string, seq: number, data: string, ts: number): WireFrame {
  if (!PLAIN_TOPIC.test(topic) || !Number.isSafeInteger(seq) || seq < 0 || !Number.isSafeInteger(ts) || ts < 0) {
    return textFrame(encodeMsg(topic, seq, data, ts));
  }
  const dataBytes = Buffer.byteLength(data);
  const seqDigits = digits(seq);
  const tsDigits = digits(ts);
  const length =
    MSG_HEAD.length +
    topic.length +
    MSG_SEQ.length +
    seqDigits +
    MSG_DATA.length +
    dataBytes +
    MSG_TS.length +
    tsDigits +
    1;
  const { bytes, header } = frameFor(length);
  let p = putTopic(bytes, put(bytes, header, MSG_HEAD), topic);
  p = put(bytes, p, MSG_SEQ);
  p = putInt(bytes, p, seq, seqDigits);
  p = put(bytes, p, MSG_DATA);
  p += bytes.write(data, p);
  p = put(bytes, p, MSG_TS);
  p = putInt(bytes, p, ts, tsDigits);
  bytes[p] = 0x7d; // }
  return new WireFrame(bytes, header);
}

/**
 * The frames sockets collected, joined for one write each, shared between sockets that
 * collected exactly the same frames (on a busy topic: every subscriber of it) so a turn
 * copies its frames once, not once per socket. Used for one flush, then cleared.
 */
export class SharedConcat {
  /** The lists joined in this flush by their first frame (a few at most per frame), with their bytes. */
  private readonly byFirst = new Map<Buffer, { frames: readonly Buffer[]; bytes: Buffer }[]>();

  /** `frames` (two or more, `length` bytes in all) as one buffer. */
  join(frames: readonly Buffer[], length: number): Buffer {
    const first = frames[0]!;
    let seen = this.byFirst.get(first);
    if (seen === undefined) {
      seen = [];
      this.byFirst.set(first, seen);
    }
    for (const s of seen) if (sameFrames(s.frames, frames)) return s.bytes;
    const bytes = Buffer.concat(frames, length);
    // Subscribers of one topic collect the same frames; past a few variants it is not that.
    if (seen.length < MAX_VARIANTS) seen.push({ frames, bytes });
    return bytes;
  }

  clear(): void {
    this.byFirst.clear();
  }
}

const MAX_VARIANTS = 4;

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
