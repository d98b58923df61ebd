/**
 * One delivery, encoded once and shared by every socket it goes to: the UTF-8 payload (for
 * `ws.send(payload, { binary: false })`, which does not copy) and the complete WebSocket text
 * frame (RFC 6455 §5.2). Server-to-client frames are not masked, so the same bytes are valid
 * on every connection and can be written straight to the TLS socket under `ws`.
 */
export interface WireFrame {
  /** The message text as UTF-8. */
  readonly payload: Buffer;
  /** FIN + text opcode, unmasked length header, then the payload. */
  readonly bytes: Buffer;
}

const FIN_TEXT = 0x81;

/** Encodes `text` once as a text frame. */
export function textFrame(text: string): WireFrame {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const bytes = Buffer.allocUnsafe(header + length);
  bytes[0] = FIN_TEXT;
  if (header === 2) {
    bytes[1] = length;
  } else if (header === 4) {
    bytes[1] = 126;
    bytes.writeUInt16BE(length, 2);
  } else {
    bytes[1] = 127;
    bytes.writeUInt32BE(0, 2);
    bytes.writeUInt32BE(length, 6);
  }
  bytes.write(text, header, 'utf8');
  return { payload: bytes.subarray(header), bytes };
}
