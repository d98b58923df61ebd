/**
 * The one module that reaches past `ws`'s public API. The publisher's replies and the
 * subscriber's deliveries write pre-built text frames straight to the TLS socket under a
 * WebSocket (raw-frames.ts builds them): `ws.send` costs a header buffer, two socket writes and
 * a pass through its sender per frame, and a socket write per frame is what the services spend
 * most on. What this relies on, in ws 8 (test/ws-adapter.test.ts fails if an upgrade changes it):
 *
 * - `ws._socket` is the net/TLS socket of a connected WebSocket (it stays set, destroyed,
 *   after the close: writers check readyState first);
 * - without extensions, ws's sender never queues: it writes every frame, pings and close
 *   included, whole and synchronously to that socket, so frames written here cannot be cut
 *   into by ws's own;
 * - `bufferedAmount` is that socket's writable length plus the sender's queue (`_sender.
 *   _bufferedBytes`, 0 here), so bytes written here count as unsent like ws's own.
 */
import type { WebSocket } from 'ws';

/** The net/TLS socket under a `ws` WebSocket, as far as frames need it. */
export interface RawSocket {
  write(chunk: Buffer): boolean;
}

/** The socket pre-built frames can be written to, or undefined to go through `ws.send`. */
export function rawSocketOf(ws: { readonly extensions?: string }): RawSocket | undefined {
  if (ws.extensions !== '') return undefined;
  const raw = (ws as unknown as { _socket?: Partial<RawSocket> | null })._socket;
  return raw && typeof raw.write === 'function' ? (raw as RawSocket) : undefined;
}

/**
 * Runs `before` whenever `ws.close` is called, before ws writes its close frame: frames
 * gathered for the raw socket must not be overtaken by the close.
 */
export function beforeClose(ws: WebSocket, before: () => void): void {
  const close = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer): void => {
    before();
    close(code, reason);
  };
}
