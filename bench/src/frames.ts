/**
 * Lean publishing: each publisher builds one WebSocket frame template per topic before the
 * run (header, masking key, protocol envelope, payload padding), and at send time copies
 * templates back to back into one buffer per burst, writing only the message index, the send
 * time and — with ids — the id digits in place. One allocation and one socket write per
 * burst; nothing per message. The masking key is all zeros (RFC 6455 allows any key; a zero
 * key makes masking a no-op), so the client spends nothing on masking either. Pure functions
 * of bytes: the socket is the caller's (transport.ts).
 */

const ZERO = 0x30;
const TILDE = 0x7e;
const DOT = 0x2e;

/** Digits of an id's counter part (zero-padded: every frame of a template has the same length). */
export const ID_DIGITS = 10;
/** Placeholder for the id digits in a template's text; topics never hold `#`. */
const ID_MARK = '#'.repeat(ID_DIGITS);

export const OPCODE_TEXT = 1;
export const OPCODE_BINARY = 2;

export interface FrameTemplate {
  /** The whole frame (header, zero mask, body), stamp and id digits still blank. */
  readonly bytes: Buffer;
  /** Where the payload starts in `bytes`. */
  readonly stampAt: number;
  readonly payloadBytes: number;
  /** Where the id digits start in `bytes`, or -1 without ids. */
  readonly idAt: number;
}

/** A client frame's header with a zero masking key, for a body of `length` bytes. */
export function maskedHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, 0x80 | length, 0, 0, 0, 0]);
  if (length < 65536) return Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 255, 0, 0, 0, 0]);
  const h = Buffer.alloc(14);
  h[0] = 0x80 | opcode;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/**
 * A template for `before` + payload + `after`, where either text may hold ID_MARK once (the
 * id's digits go there). Payload bytes start blank (`x`), as the payload's padding.
 */
export function frameTemplate(opcode: number, before: string, payloadBytes: number, after: string): FrameTemplate {
  const body = Buffer.from(before + 'x'.repeat(payloadBytes) + after);
  const header = maskedHeader(opcode, body.length);
  const bytes = Buffer.concat([header, body]);
  const stampAt = header.length + Buffer.byteLength(before);
  const idAt = bytes.indexOf(ID_MARK);
  if (idAt >= 0) bytes.fill(ZERO, idAt, idAt + ID_DIGITS);
  return { bytes, stampAt, payloadBytes, idAt };
}

/** Writes `n` (a non-negative integer) in decimal at `off`; returns the offset after it. */
export function writeDecimal(buf: Buffer, off: number, n: number): number {
  let len = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) len++;
  for (let i = off + len - 1; i >= off; i--) {
    buf[i] = ZERO + (n % 10);
    n = Math.floor(n / 10);
  }
  return off + len;
}

/** Writes `n` zero-padded to `width` digits (its low digits when longer). */
export function writePadded(buf: Buffer, off: number, n: number, width: number): void {
  for (let i = off + width - 1; i >= off; i--) {
    buf[i] = ZERO + (n % 10);
    n = Math.floor(n / 10);
  }
}

/**
 * The payload of payload.ts's encodePayload (`~<index>~<ms.µs>~` padded with `x`), written in
 * place: the template's padding is already there, so only the stamp's bytes change.
 */
export function writeStamp(buf: Buffer, off: number, index: number, sentAtMs: number): void {
  const micros = Math.round(sentAtMs * 1000);
  const whole = Math.floor(micros / 1000);
  let p = off;
  buf[p++] = TILDE;
  p = writeDecimal(buf, p, index);
  buf[p++] = TILDE;
  p = writeDecimal(buf, p, whole);
  buf[p++] = DOT;
  writePadded(buf, p, micros - whole * 1000, 3);
  buf[p + 3] = TILDE;
}

/** Copies the template to `off` of `buf` and stamps it; returns the offset after the frame. */
export function fillFrame(buf: Buffer, off: number, t: FrameTemplate, index: number, sentAtMs: number): number {
  buf.set(t.bytes, off); // TypedArray.set: a native copy, without Buffer.copy's wrapper per frame
  writeStamp(buf, off + t.stampAt, index, sentAtMs);
  if (t.idAt >= 0) writePadded(buf, off + t.idAt, index, ID_DIGITS);
  return off + t.bytes.length;
}

/** What a publisher sends, per system: the envelope around the payload. */
export type FrameKind =
  | { kind: 'wsq-legacy' }
  | { kind: 'wsq-v1'; idPrefix: string | undefined }
  | { kind: 'nats' }
  | { kind: 'jetstream'; replyTo: string; idPrefix: string };

/**
 * A publish frame template for `topic`. The bench's topics and payloads hold no character
 * JSON escapes, so both are spliced in (test/frames.test.ts checks the result against core's
 * codecs and the NATS protocol).
 */
export function publishTemplate(k: FrameKind, topic: string, payloadBytes: number): FrameTemplate {
  switch (k.kind) {
    case 'wsq-legacy':
      return frameTemplate(OPCODE_TEXT, `{"Topic":"${topic}","Content":"`, payloadBytes, '"}');
    case 'wsq-v1':
      return frameTemplate(
        OPCODE_TEXT,
        `{"op":"pub","topic":"${topic}","data":"`,
        payloadBytes,
        k.idPrefix === undefined ? '"}' : `","id":"${k.idPrefix}${ID_MARK}"}`,
      );
    case 'nats':
      return frameTemplate(OPCODE_BINARY, `PUB ${topic} ${payloadBytes}\r\n`, payloadBytes, '\r\n');
    case 'jetstream': {
      // The id travels as Nats-Msg-Id, as wsq's JetStream home sends a v1 id: the stream
      // dedupes it, as the msgqueue dedupes v1 ids.
      const headers = `NATS/1.0\r\nNats-Msg-Id: ${k.idPrefix}${ID_MARK}\r\n\r\n`;
      const hlen = Buffer.byteLength(headers);
      return frameTemplate(
        OPCODE_BINARY,
        `HPUB ${topic} ${k.replyTo} ${hlen} ${hlen + payloadBytes}\r\n${headers}`,
        payloadBytes,
        '\r\n',
      );
    }
  }
}

/** Unmasks a client frame built here (zero key: the body is the text) — for tests and tools. */
export function frameBody(frame: Buffer): Buffer {
  const len7 = frame[1] & 0x7f;
  const start = len7 < 126 ? 6 : len7 === 126 ? 8 : 14;
  return frame.subarray(start);
}
