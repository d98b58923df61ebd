/**
 * Server-to-client WebSocket text frames (RFC 6455 §5.2: FIN + text opcode, an unmasked
 * length, the payload), built in place so that many can leave in one socket write. They are
 * written past `ws`'s sender, to the socket ws-adapter.ts hands out.
 */

const FIN_TEXT = 0x81;

/** Bytes of a text frame's header for a payload of `length` bytes. */
export function textFrameHeaderBytes(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** Writes a text frame's header for `length` payload bytes at `off`; returns where the payload goes. */
export function putTextFrameHeader(buf: Buffer, off: number, length: number): number {
  const header = textFrameHeaderBytes(length);
  buf[off] = FIN_TEXT;
  if (header === 2) {
    buf[off + 1] = length;
  } else if (header === 4) {
    buf[off + 1] = 126;
    buf.writeUInt16BE(length, off + 2);
  } else {
    buf[off + 1] = 127;
    buf.writeUInt32BE(0, off + 2);
    buf.writeUInt32BE(length, off + 6);
  }
  return off + header;
}
