/**
 * What the client needs of a platform: open a WebSocket and learn what happens to it. Node
 * (ws, with Basic Auth and a CA) and browsers (the global WebSocket, with tickets) each
 * provide one; tests may pass their own.
 */

export interface SocketHandlers {
  open(): void;
  message(text: string): void;
  /** The socket is gone: after open, or instead of it. Called once. */
  close(code: number, reason: string): void;
  /**
   * Opening failed with a reason the platform knows (an HTTP status, an untrusted certificate,
   * a refused connection); `close` follows.
   */
  fail(err: Error & { status?: number; code?: string }): void;
}

export interface Socket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Drops the connection at once, without a closing handshake. */
  terminate(): void;
}

export interface SocketRequest {
  url: string;
  /** Basic Auth credentials for the upgrade; only platforms that can send headers use them. */
  basic?: { user: string; password: string };
  connectTimeoutMs: number;
}

export interface Platform {
  /** Whether upgrades can carry an Authorization header (Node yes, browsers no). */
  readonly canSendHeaders: boolean;
  openSocket(req: SocketRequest, handlers: SocketHandlers): Socket;
}
