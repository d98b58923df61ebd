/**
 * The browser platform: the global WebSocket. It cannot send headers (the client uses tickets)
 * and cannot tell why an upgrade failed (a 401 and a network error both close with 1006).
 */
import { V1_PROTOCOL } from './frames.js';
import type { Platform, Socket, SocketHandlers, SocketRequest } from './transport.js';

/** The part of the WHATWG WebSocket the client uses. */
export interface BrowserWebSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  onopen: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: (() => void) | null;
}
export type BrowserWebSocketClass = new (url: string, protocols: string[]) => BrowserWebSocket;

export function createBrowserPlatform(
  WebSocketClass: BrowserWebSocketClass = (globalThis as unknown as { WebSocket: BrowserWebSocketClass }).WebSocket,
): Platform {
  return {
    canSendHeaders: false,
    openSocket(req: SocketRequest, h: SocketHandlers): Socket {
      const ws = new WebSocketClass(req.url, [V1_PROTOCOL]);
      let gone = false;
      ws.onopen = () => h.open();
      ws.onmessage = (ev) => {
        if (typeof ev.data === 'string') h.message(ev.data);
      };
      ws.onclose = (ev) => {
        if (gone) return;
        gone = true;
        h.close(ev.code, ev.reason);
      };
      ws.onerror = () => undefined; // a close event always follows
      return {
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        terminate: () => {
          // Browsers have no abort: close, and report the socket gone now.
          try {
            ws.close(1000, 'bye');
          } catch {
            /* already closing */
          }
          if (!gone) {
            gone = true;
            h.close(1006, 'terminated');
          }
        },
      };
    },
  };
}
