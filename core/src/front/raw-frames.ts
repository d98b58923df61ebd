/**
 * Server-to-client WebSocket text frames written past `ws`'s sender, straight to the TLS socket
 * under it (RFC 6455 §5.2: FIN + text opcode, an unmasked length, the payload). The publisher's
 * replies and the subscriber's deliveries are built this way: `ws.send` costs a header buffer,
 * two socket writes and a pass through its sender per frame, and a socket write per frame is
 * what the services spend most on.
 */

const FIN_TEXT = 0x81;

/** The net/TLS socket under a `ws` WebSocket (its private `_socket`), as far as frames need it. */
export interface RawSocket {
  write(chunk: Buffer): boolean;
}

/**
 * The socket pre-built frames can be written to, or undefined to go through `ws.send`. Safe
 * only without extensions: ws's sender then never queues (it writes every frame, pings and
 * close included, whole and synchronously), and `bufferedAmount` is the socket's writable
 * length plus that empty queue, so bytes written here count as unsent like ws's own.
 */
export function rawSocketOf(ws: { readonly extensions?: string }): RawSocket | undefined {
  if (ws.extensions !== '') return undefined;
  const raw = (ws as unknown as { _socket?: Partial<RawSocket> | null })._socket;
  return raw && typeof raw.write === 'function' ? (raw as RawSocket) : undefined;
}

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
