/**
 * One self-healing WebSocket to the msgqueue, shared by the producer and the consumer: TLS
 * verified against `ca`, Basic Auth, `wsq.link.v3` with a legacy (ws-go) fallback, a ping
 * heartbeat, and reconnects with exponential backoff and jitter. It knows nothing of what
 * travels over the link; queue-producer.ts and queue-consumer.ts speak the protocol.
 *
 * Legacy detection: a ws-go msgqueue accepts the upgrade without selecting a subprotocol. The
 * `ws` client refuses such a handshake when it offered subprotocols itself, so we offer
 * `wsq.link.v3` through the raw `Sec-WebSocket-Protocol` header and read the answer in the
 * `upgrade` event (emitted before ws checks it): no subprotocol selected means legacy; ours
 * selected is taken out of the response so that ws, which offered nothing, accepts it. One
 * connection either way: a second "probe" socket could make a ws-go FIFO pop a message into
 * a socket we are about to drop. Every reconnect asks again, so a queue upgraded in place is
 * picked up. (ws 8 emits `upgrade` before reading the header; queue-*.test.ts cover both.)
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { createBackoff } from '../backoff.js';
import { decodeLinkReply, LINK_PROTOCOL, receivedFrame, type LinkFrame, type LinkReply } from '../../protocol/link.js';
import type { Logger } from '../../observe/log.js';
import type { LinkState } from '../queue.js';

export interface LinkClientOptions {
  /**
   * msgqueue base URL, e.g. 'wss://localhost:8080', without query or fragment; /pushmsg or
   * /popmsg is appended to its path (see linkUrl).
   */
  url: string;
  /** Basic Auth for the link. */
  user?: string;
  password?: string;
  /** Verify the msgqueue certificate against this CA. */
  ca: Buffer;
  /** true = skip certificate verification (logged loudly). */
  insecure: boolean;
  /** Ping the queue this often; a ping left unanswered until the next one drops the link. */
  pingIntervalMs: number;
  /** Exponential backoff with jitter between reconnect attempts. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** The service's logger, without a `link` binding: the link adds its own (pushmsg or popmsg). */
  log: Logger;
  /** 'connecting' | 'up' | 'down' | 'closed'; detail says why (e.g. 'certificate not trusted', 'HTTP 401'). */
  onState?(state: LinkState, detail?: string): void;
}

/** Large enough for a full append batch or msgs frame; the queue bounds what it sends. */
export const LINK_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** A peer that ignores our close frame is cut off after this long. */
const CLOSE_GRACE_MS = 1000;
/** The opening handshake (TCP + TLS + HTTP upgrade) must finish within this long. */
const MIN_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface LinkHandlers {
  /** The socket is open; `legacy` when the queue did not negotiate the link subprotocol. */
  onOpen(legacy: boolean): void;
  /** A frame from the queue: text frames as strings, binary ones as bytes. */
  onFrame(frame: LinkFrame): void;
  /** The link reached 'up' (after markUp()). */
  onUp?(): void;
  /** The socket is gone; a reconnect follows unless close() was called. */
  onDown(detail: string): void;
}

export interface LinkClient {
  readonly state: LinkState;
  /** Whether the current socket speaks the legacy ws-go link. */
  readonly legacy: boolean;
  start(): void;
  /** The protocol layer is ready (producer: socket open; consumer: `consuming` received). */
  markUp(): void;
  /** Sends on the current socket; false when there is none open. */
  send(frame: LinkFrame, cb?: (err?: Error) => void): boolean;
  /** Drops the current socket (protocol fault, queue error): down, then reconnect. */
  drop(detail: string): void;
  close(): Promise<void>;
}

const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/** A short, credential-free reason for a failed connection. */
/**
 * Decodes a frame from the msgqueue for a producer or consumer. A frame that does not decode
 * means a wrong peer or a bug: the link is dropped (and reconnects) and undefined returned.
 */
export function readLinkReply(link: Pick<LinkClient, 'drop'>, frame: LinkFrame): LinkReply | undefined {
  try {
    return decodeLinkReply(frame);
  } catch {
    link.drop('bad frame from the msgqueue');
    return undefined;
  }
}

export function describeLinkError(err: Error & { code?: string }): string {
  const code = err.code ?? '';
  if (UNTRUSTED_CERT_CODES.has(code)) return `certificate not trusted (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'certificate does not match the host name';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `certificate not valid now (${code})`;
  if (code !== '') return code;
  return err.message;
}

/**
 * The link's URL: `path` after the base URL's own path, which is a prefix (a reverse proxy's),
 * so 'wss://gw/wsq/' and 'wss://gw/wsq' both give 'wss://gw/wsq/pushmsg'.
 */
export function linkUrl(base: string, path: '/pushmsg' | '/popmsg'): string {
  const url = new URL(base);
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  return url.toString();
}

/** The URL without userinfo, for logs. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

interface Attempt {
  sock: WebSocket;
  opened: boolean;
  /** The queue answered the upgrade without selecting a subprotocol: a ws-go msgqueue. */
  legacy: boolean;
  /** Why it failed or was dropped, when we know better than the close code. */
  detail: string | undefined;
  alive: boolean;
}

export function createLinkClient(
  opts: LinkClientOptions,
  path: '/pushmsg' | '/popmsg',
  handlers: LinkHandlers,
): LinkClient {
  const target = linkUrl(opts.url, path);
  // `link` is set here and by the producer and consumer on their own lines, never by a caller:
  // pino does not merge child bindings, so a second `link` would repeat the key in one line.
  const log = opts.log.child({ link: path.slice(1), queue: safeUrl(target) });
  const backoff = createBackoff(opts.reconnectMinMs, opts.reconnectMaxMs);
  const headers: Record<string, string> = { 'Sec-WebSocket-Protocol': LINK_PROTOCOL };
  if (opts.user !== undefined) {
    headers.authorization = 'Basic ' + Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64');
  }

  let state: LinkState = 'down';
  let started = false;
  let closing = false;
  let current: Attempt | undefined;
  let legacy = false;
  let lastDetail = '';
  let reconnectTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let closeTimer: NodeJS.Timeout | undefined;
  let closed: Promise<void> | undefined;
  let closedResolve: () => void = () => {};

  function setState(next: LinkState, detail?: string): void {
    state = next;
    opts.onState?.(next, detail);
  }

  if (opts.insecure) {
    log.warn(
      'TLS VERIFICATION OF THE MSGQUEUE IS DISABLED (--insecure): anyone on the path can read and forge the link; testing only',
    );
  }

  function isOpen(a: Attempt | undefined): a is Attempt {
    return a !== undefined && a.sock.readyState === WebSocket.OPEN;
  }

  function connect(): void {
    setState('connecting');
    const sock = new WebSocket(target, [], {
      ca: opts.ca,
      rejectUnauthorized: !opts.insecure,
      headers,
      maxPayload: LINK_MAX_PAYLOAD_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: Math.max(opts.pingIntervalMs, MIN_HANDSHAKE_TIMEOUT_MS),
      followRedirects: false,
    });
    const a: Attempt = { sock, opened: false, legacy: false, detail: undefined, alive: true };
    current = a;

    sock.on('upgrade', (res: IncomingMessage) => {
      const selected = res.headers['sec-websocket-protocol'];
      if (selected === undefined) a.legacy = true;
      else if (selected === LINK_PROTOCOL) delete res.headers['sec-websocket-protocol'];
      else a.detail = `the msgqueue selected an unknown subprotocol (${selected})`;
    });
    sock.on('unexpected-response', (_req, res: IncomingMessage) => {
      a.detail = `HTTP ${res.statusCode ?? 0}`;
      res.resume();
      sock.terminate();
    });
    sock.on('error', (err: Error) => {
      a.detail ??= describeLinkError(err);
    });
    sock.on('open', () => {
      a.opened = true;
      legacy = a.legacy;
      pingTimer = setInterval(() => ping(a), opts.pingIntervalMs);
      if (legacy)
        log.info(`the msgqueue did not negotiate ${LINK_PROTOCOL}: using the legacy ws-go link (no acks, no seqs)`);
      handlers.onOpen(legacy);
    });
    sock.on('pong', () => {
      a.alive = true;
    });
    sock.on('message', (data: Buffer, isBinary: boolean) => {
      if (current !== a) return;
      handlers.onFrame(receivedFrame(data, isBinary));
    });
    sock.on('close', (code: number, reason: Buffer) => onClose(a, code, reason.toString()));
  }

  function ping(a: Attempt): void {
    if (!a.alive) {
      a.detail = 'pong missed';
      a.sock.terminate();
      return;
    }
    a.alive = false;
    a.sock.ping();
  }

  function onClose(a: Attempt, code: number, reason: string): void {
    clearInterval(pingTimer);
    pingTimer = undefined;
    current = undefined;
    const why = a.detail ?? `closed by the msgqueue (${code}${reason ? ` ${reason}` : ''})`;
    if (a.opened) handlers.onDown(why);
    if (closing) {
      clearTimeout(closeTimer);
      setState('closed');
      log.info('msgqueue link closed');
      closedResolve();
      return;
    }
    const delay = backoff.next();
    if (why === lastDetail && state !== 'up') log.debug({ detail: why, retryMs: delay }, 'msgqueue link still down');
    else log.warn({ detail: why, retryMs: delay }, 'msgqueue link down');
    lastDetail = why;
    setState('down', why);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      connect();
    }, delay);
  }

  return {
    get state() {
      return state;
    },
    get legacy() {
      return legacy;
    },
    start() {
      if (started || closing) return;
      started = true;
      connect();
    },
    markUp() {
      if (!isOpen(current) || state === 'up') return;
      backoff.reset();
      lastDetail = '';
      log.info({ legacy }, 'msgqueue link up');
      setState('up');
      handlers.onUp?.();
    },
    send(frame, cb) {
      if (!isOpen(current)) return false;
      current.sock.send(frame, cb);
      return true;
    },
    drop(detail) {
      if (current === undefined) return;
      log.warn({ detail }, 'dropping the msgqueue link');
      current.detail = detail;
      current.sock.terminate();
    },
    close() {
      if (closed) return closed;
      closing = true;
      clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
      closed = new Promise<void>((resolve) => {
        closedResolve = resolve;
      });
      const a = current;
      if (a === undefined) {
        setState('closed');
        closedResolve();
      } else if (a.sock.readyState === WebSocket.OPEN) {
        a.sock.close(1000, 'client closing');
        closeTimer = setTimeout(() => a.sock.terminate(), CLOSE_GRACE_MS);
      } else {
        a.sock.terminate();
      }
      return closed;
    },
  };
}
