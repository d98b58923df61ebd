/**
 * One endpoint's connection (the publisher's or the subscriber's) as a state machine:
 * connecting → open → reconnecting → open … → closed. It reconnects with backoff after a
 * network drop and after close codes 1001, 1011, 1013 (and any other that retrying can fix),
 * and gives up on 1008, a 401 or a refused origin. It knows nothing of frames: the layer
 * above gets `onOpen` (re-send what it must) and the text of each frame.
 */
import type { Backoff } from './backoff.js';
import { CLIENT_CODES, httpError, isFatal, WsqError, type Endpoint } from './errors.js';
import type { Platform, Socket, SocketRequest } from './transport.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ConnectionOptions {
  name: Endpoint;
  url: string;
  platform: Platform;
  /** The request of one attempt: Basic credentials, or the URL with a fresh ?ticket=. */
  prepare(url: string): Promise<SocketRequest>;
  backoff: Backoff;
  /** How long a close handshake may take before the socket is dropped. */
  closeTimeoutMs: number;
  onOpen(): void;
  onText(text: string): void;
  onState(state: ConnectionState): void;
  /** The connection gave up for good (a fatal failure); it is closed. */
  onFatal(err: WsqError): void;
}

/** Close codes after which reconnecting cannot help (docs/protocol.md 2.5). */
const FATAL_CLOSE: Record<number, 'POLICY' | 'TOO_LARGE' | 'PROTOCOL'> = {
  1002: 'PROTOCOL',
  1003: 'PROTOCOL',
  1007: 'PROTOCOL',
  1008: 'POLICY',
  1009: 'TOO_LARGE',
  1010: 'PROTOCOL',
};

/** The error a close (or a failed opening) stands for. */
export function closeError(name: Endpoint, code: number, reason: string, opened: boolean): WsqError {
  const fatal = FATAL_CLOSE[code];
  const why = reason ? `${code}: ${reason}` : `${code}`;
  const extra = { closeCode: code, endpoint: name };
  if (fatal === 'POLICY') return new WsqError('POLICY', `${name}: ${CLIENT_CODES.POLICY} (${why})`, extra);
  if (fatal) return new WsqError(fatal, `${name}: the server closed the connection (${why})`, extra);
  if (!opened) return new WsqError('UNREACHABLE', `${name}: ${CLIENT_CODES.UNREACHABLE} (${why})`, extra);
  return new WsqError('UNREACHABLE', `${name}: connection lost (${why})`, extra);
}

export class Connection {
  private _state: ConnectionState = 'connecting';
  private socket: Socket | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private opened = false;
  private everOpened = false;
  private failure: WsqError | undefined;
  private first: { resolve(): void; reject(err: WsqError): void } | undefined;
  private closedWaiters: (() => void)[] = [];
  /** Times the connection came back after losing it. */
  reconnects = 0;

  constructor(private readonly o: ConnectionOptions) {}

  get state(): ConnectionState {
    return this._state;
  }

  /** Opens; resolves on the first open, rejects (and closes) if the first attempt fails. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.first = { resolve, reject };
      this.dial();
    });
  }

  /** Sends when open; false otherwise (the layer above keeps it and re-sends on open). */
  send(text: string): boolean {
    if (this._state !== 'open' || !this.socket) return false;
    this.socket.send(text);
    return true;
  }

  /** Closes with 1000 and stops reconnecting; resolves once the socket is gone. */
  close(): Promise<void> {
    if (this._state === 'closed' && !this.socket) return Promise.resolve();
    this.setState('closed');
    this.clearTimer();
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      this.closedWaiters.push(resolve);
      this.timer = setTimeout(() => socket.terminate(), this.o.closeTimeoutMs);
      try {
        if (this.opened) socket.close(1000, 'bye');
        else socket.terminate();
      } catch {
        socket.terminate();
      }
    });
  }

  private setState(state: ConnectionState): void {
    if (this._state === state) return;
    this._state = state;
    this.o.onState(state);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private dial(): void {
    const my = ++this.attempt;
    this.opened = false;
    this.failure = undefined;
    this.o.prepare(this.o.url).then(
      (req) => {
        if (my !== this.attempt || this._state === 'closed') return;
        this.open(my, req);
      },
      (err: unknown) => {
        if (my !== this.attempt || this._state === 'closed') return;
        const e =
          err instanceof WsqError
            ? err
            : new WsqError('UNREACHABLE', `${this.o.name}: ${(err as Error).message}`, { endpoint: this.o.name });
        this.afterFailure(e);
      },
    );
  }

  private open(my: number, req: SocketRequest): void {
    const current = (): boolean => my === this.attempt;
    this.timer = setTimeout(() => {
      if (!current() || this.opened) return;
      this.failure = new WsqError('CONNECT_TIMEOUT', `${this.o.name}: ${CLIENT_CODES.CONNECT_TIMEOUT}`, {
        endpoint: this.o.name,
      });
      this.socket?.terminate();
    }, req.connectTimeoutMs);
    this.socket = this.o.platform.openSocket(req, {
      open: () => {
        if (!current()) return;
        this.clearTimer();
        if (this._state === 'closed') return; // close() already asked the socket to go
        this.opened = true;
        if (this.everOpened) this.reconnects++;
        this.everOpened = true;
        this.o.backoff.reset();
        this.setState('open');
        this.first?.resolve();
        this.first = undefined;
        this.o.onOpen();
      },
      message: (text) => {
        if (current() && this._state === 'open') this.o.onText(text);
      },
      fail: (err) => {
        if (!current() || this.opened) return;
        // The first reason wins: ws reports a refused upgrade, then the abort that follows it.
        this.failure ??=
          err.status !== undefined ? httpError(this.o.name, err.status, this.o.name) : mapSocketError(this.o.name, err);
      },
      close: (code, reason) => {
        if (!current()) return;
        this.socket = undefined;
        this.clearTimer();
        if (this._state === 'closed') {
          for (const w of this.closedWaiters.splice(0)) w();
          return;
        }
        this.afterFailure(this.failure ?? closeError(this.o.name, code, reason, this.opened));
      },
    });
  }

  private afterFailure(err: WsqError): void {
    if (isFatal(err) || FATAL_CLOSE[err.closeCode ?? 0] !== undefined || this.first) {
      this.setState('closed');
      if (this.first) {
        this.first.reject(err);
        this.first = undefined;
      } else {
        this.o.onFatal(err);
      }
      return;
    }
    this.setState('reconnecting');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dial();
    }, this.o.backoff.next());
  }
}

/** Node's codes for a server certificate that could not be trusted. */
export const CERT_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A platform's socket error (Node's codes) as a WsqError. */
export function mapSocketError(name: Endpoint, err: Error & { code?: string }): WsqError {
  const code = err.code ?? '';
  const extra = { endpoint: name, ...(code ? { detail: code } : {}) };
  if (CERT_ERRORS.has(code)) {
    return new WsqError('UNTRUSTED_CERT', `${name}: ${CLIENT_CODES.UNTRUSTED_CERT} (${code})`, extra);
  }
  if (code === 'ECONNREFUSED') {
    return new WsqError('UNREACHABLE', `${name}: connection refused: is the service running? (${code})`, extra);
  }
  return new WsqError('UNREACHABLE', `${name}: ${CLIENT_CODES.UNREACHABLE} (${code || err.message})`, extra);
}
