// On-disk record format of the journal, and the CRC32 that guards it.
//
//   header (16 bytes)
//     u32 BE  bodyLength
//     u32 BE  crc32 of bytes [8, 16 + bodyLength)  -- i.e. seq + body, so a record
//             copied to the wrong place (wrong seq) is caught like a flipped bit
//     u32 BE  seq high 32 bits
//     u32 BE  seq low 32 bits
//   body
//     u8      flags (bit 0: pid present)
//     f64 BE  ts (ms since epoch)
//     u16 BE  topic byte length
//     u16 BE  pid byte length
//     topic, pid, data (UTF-8; data takes the rest of the body)
//
// Pure functions over Buffers: no file access here, so the codec is testable alone.

import * as zlib from 'node:zlib';

export const JOURNAL_ERROR_CODES = [
  'JOURNAL_CLOSED',
  'JOURNAL_IO',
  'JOURNAL_CORRUPT',
  'INVALID_ARGUMENT',
  'RECORD_TOO_LARGE',
  'JOURNAL_OVERLOADED',
] as const;
export type JournalErrorCode = (typeof JOURNAL_ERROR_CODES)[number];

export class JournalError extends Error {
  readonly code: JournalErrorCode;
  constructor(code: JournalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JournalError';
    this.code = code;
  }
}

export interface StoredMessage {
  seq: number;
  topic: string;
  data: string;
  ts: number;
  pid?: string;
}

export const RECORD_HEADER_BYTES = 16;
const BODY_FIXED_BYTES = 13; // flags + ts + topicLen + pidLen
const FLAG_HAS_PID = 1;
const MAX_FIELD_BYTES = 0xffff;
/** Largest body a record may have; bounds the read buffers of recovery and disk reads. */
export const RECORD_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** checkRecordAt results that are not a record size. */
export const RECORD_INCOMPLETE = -1;
export const RECORD_CORRUPT = -2;

// zlib.crc32 exists from Node 20.15 and 22.2; older Node 20 releases (engines says >=20) use
// the table below. Slicing-by-8: eight 256-entry tables let the loop consume 8 bytes per step;
// they are built only when the fallback is taken.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
let crcTables: Int32Array | undefined;
/** Which implementation crc32 uses on this Node. */
export const CRC32_IMPL: 'zlib' | 'table' = nativeCrc32 ? 'zlib' : 'table';

function buildCrcTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}

/** CRC-32 (IEEE, as zlib) of buf[start, end): zlib's where Node has it, else the table. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  if (nativeCrc32) return nativeCrc32(buf.subarray(start, end));
  return tableCrc32(buf, start, end);
}

/** The fallback for Node before 20.15; exported so a test keeps it equal to zlib's. */
export function tableCrc32(buf: Uint8Array, start = 0, end = buf.length): number {
  const t = (crcTables ??= buildCrcTables());
  let c = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = c ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
    const hi = buf[i + 4] | (buf[i + 5] << 8) | (buf[i + 6] << 16) | (buf[i + 7] << 24);
    c =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + (hi & 0xff)] ^
      t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^
      t[hi >>> 24];
  }
  for (; i < end; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Byte sizes of one message's variable fields, measured once when it is appended. */
export interface RecordSizes {
  topicBytes: number;
  pidBytes: number;
  dataBytes: number;
  recordBytes: number;
}

export function measureRecord(topic: string, data: string, pid: string | undefined): RecordSizes {
  const topicBytes = Buffer.byteLength(topic, 'utf8');
  const pidBytes = pid === undefined ? 0 : Buffer.byteLength(pid, 'utf8');
  const dataBytes = Buffer.byteLength(data, 'utf8');
  if (topicBytes > MAX_FIELD_BYTES || pidBytes > MAX_FIELD_BYTES) {
    throw new JournalError('RECORD_TOO_LARGE', 'topic or pid longer than 65535 bytes');
  }
  const bodyBytes = BODY_FIXED_BYTES + topicBytes + pidBytes + dataBytes;
  if (bodyBytes > RECORD_MAX_BODY_BYTES) {
    throw new JournalError('RECORD_TOO_LARGE', `record body of ${bodyBytes} bytes exceeds ${RECORD_MAX_BODY_BYTES}`);
  }
  return { topicBytes, pidBytes, dataBytes, recordBytes: RECORD_HEADER_BYTES + bodyBytes };
}

/** Writes one record at `off` (the caller sized `buf` with measureRecord); returns the end offset. */
export function encodeRecordInto(buf: Buffer, off: number, msg: StoredMessage, sizes: RecordSizes): number {
  // Plain byte stores: Buffer#writeUInt32BE and friends check their arguments on every call,
  // which showed in the msgqueue's profile at seven calls per record.
  u32(buf, off, sizes.recordBytes - RECORD_HEADER_BYTES);
  u32(buf, off + 8, Math.floor(msg.seq / 0x1_0000_0000));
  u32(buf, off + 12, msg.seq >>> 0);
  let p = off + RECORD_HEADER_BYTES;
  buf[p] = msg.pid === undefined ? 0 : FLAG_HAS_PID;
  buf.writeDoubleBE(msg.ts, p + 1);
  buf[p + 9] = sizes.topicBytes >>> 8;
  buf[p + 10] = sizes.topicBytes & 0xff;
  buf[p + 11] = sizes.pidBytes >>> 8;
  buf[p + 12] = sizes.pidBytes & 0xff;
  p += BODY_FIXED_BYTES;
  p = writeUtf8(buf, p, msg.topic, sizes.topicBytes);
  if (msg.pid !== undefined) p = writeUtf8(buf, p, msg.pid, sizes.pidBytes);
  p = writeUtf8(buf, p, msg.data, sizes.dataBytes);
  u32(buf, off + 4, crc32(buf, off + 8, p));
  return p;
}

/** Stores a 32-bit unsigned value big-endian (the caller keeps it in range). */
function u32(buf: Buffer, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

/** Strings up to this long that are plain ASCII are copied by a loop instead of buf.write. */
const LOOP_COPY_MAX = 64;

/**
 * Writes `str`, `bytes` long in UTF-8 (measureRecord sized the buffer, so it fits whole).
 * Topics and generated pids are short ASCII: copying them char by char costs less than the
 * call into native code that buf.write makes (two of three per record).
 */
function writeUtf8(buf: Buffer, off: number, str: string, bytes: number): number {
  const n = str.length;
  if (bytes === n && n <= LOOP_COPY_MAX) {
    // bytes === length: every character is ASCII (any other takes two or more UTF-8 bytes).
    for (let i = 0; i < n; i++) buf[off + i] = str.charCodeAt(i);
    return off + n;
  }
  // Without a length argument buf.write skips an argument check: measurably faster here.
  return off + buf.write(str, off);
}

/** Bytes needed at `off` to judge the record there (header first, then the whole record). */
export function recordBytesNeeded(buf: Buffer, off: number, end: number): number {
  if (end - off < RECORD_HEADER_BYTES) return RECORD_HEADER_BYTES;
  return RECORD_HEADER_BYTES + buf.readUInt32BE(off);
}

/**
 * Validates the record starting at `off` in buf[off, end): returns its total size,
 * RECORD_INCOMPLETE when more bytes are needed, or RECORD_CORRUPT. After a positive
 * result, recordSeq/recordTs/decodeRecord cannot fail on that record.
 */
export function checkRecordAt(buf: Buffer, off: number, end: number): number {
  if (end - off < RECORD_HEADER_BYTES) return RECORD_INCOMPLETE;
  const bodyLen = buf.readUInt32BE(off);
  if (bodyLen < BODY_FIXED_BYTES || bodyLen > RECORD_MAX_BODY_BYTES) return RECORD_CORRUPT;
  if (buf.readUInt32BE(off + 8) > 0x1fffff) return RECORD_CORRUPT; // seq beyond 2^53
  const size = RECORD_HEADER_BYTES + bodyLen;
  if (end - off < size) return RECORD_INCOMPLETE;
  if (crc32(buf, off + 8, off + size) !== buf.readUInt32BE(off + 4)) return RECORD_CORRUPT;
  const body = off + RECORD_HEADER_BYTES;
  if ((buf[body] & ~FLAG_HAS_PID) !== 0) return RECORD_CORRUPT;
  const fields = buf.readUInt16BE(body + 9) + buf.readUInt16BE(body + 11);
  if (BODY_FIXED_BYTES + fields > bodyLen) return RECORD_CORRUPT;
  return size;
}

export function recordSeq(buf: Buffer, off: number): number {
  return buf.readUInt32BE(off + 8) * 0x1_0000_0000 + buf.readUInt32BE(off + 12);
}

export function recordTs(buf: Buffer, off: number): number {
  return buf.readDoubleBE(off + RECORD_HEADER_BYTES + 1);
}

/** decodeRecord's layout, reused: it only lives during one call. */
const scratchLayout: RecordLayout = { seq: 0, tsAt: 0, topicAt: 0, topicLen: 0, dataAt: 0, dataLen: 0 };

/** Decodes a record already validated by checkRecordAt. */
export function decodeRecord(buf: Buffer, off: number): StoredMessage {
  const l = recordLayout(buf, off, scratchLayout);
  const pidAt = l.topicAt + l.topicLen;
  const msg: StoredMessage = {
    seq: l.seq,
    topic: buf.toString('utf8', l.topicAt, pidAt),
    data: buf.toString('utf8', l.dataAt, l.dataAt + l.dataLen),
    ts: buf.readDoubleBE(l.tsAt),
  };
  if ((buf[off + RECORD_HEADER_BYTES] & FLAG_HAS_PID) !== 0) msg.pid = buf.toString('utf8', pidAt, l.dataAt);
  return msg;
}

/** Where the fields of a record validated by checkRecordAt lie, for copying them out as bytes. */
export interface RecordLayout {
  seq: number;
  tsAt: number;
  topicAt: number;
  topicLen: number;
  dataAt: number;
  dataLen: number;
}

/**
 * Fills `out` (reused between calls: no allocation per record) with the layout of the record at
 * `off`; the one reader of the body's field offsets (the pid lies between topic and data).
 */
export function recordLayout(buf: Buffer, off: number, out: RecordLayout): RecordLayout {
  const body = off + RECORD_HEADER_BYTES;
  const topicLen = buf.readUInt16BE(body + 9);
  const pidLen = buf.readUInt16BE(body + 11);
  out.seq = recordSeq(buf, off);
  out.tsAt = body + 1;
  out.topicAt = body + BODY_FIXED_BYTES;
  out.topicLen = topicLen;
  out.dataAt = out.topicAt + topicLen + pidLen;
  out.dataLen = buf.readUInt32BE(off) - BODY_FIXED_BYTES - topicLen - pidLen;
  return out;
}
