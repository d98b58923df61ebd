/**
 * The HTTPS + WebSocket front every service shares: /healthz, /readyz, /metrics, and WebSocket
 * routes whose upgrades are checked (path, Origin, limits, Basic Auth, subprotocol) before any
 * WebSocket exists. It owns the heartbeat: one timer pings every socket and drops those that
 * did not answer the previous ping.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Authenticator, Principal } from './auth.js';
import { CLOSE, HTTP_ERRORS, type HttpErrorCode } from './errors.js';
import { connectionId, type Logger } from './log.js';
import type { BaseMetrics } from './metrics.js';
import { originAllowed } from './origins.js';
import type { TlsFiles } from './tls.js';

export interface ConnectionContext {
  principal: Principal;
  /** The negotiated subprotocol; '' for the legacy (ws-go) protocol. */
  protocol: string;
  req: IncomingMessage;
  log: Logger;
  id: string;
}

export interface WsRoute {
  path: string;
  /** Subprotocols offered by this route besides legacy (no subprotocol). */
  protocols: readonly string[];
  /** Whether a client that offers no subprotocol is accepted (legacy). */
  legacy: boolean;
  onConnection(ws: WebSocket, ctx: ConnectionContext): void;
}

export interface ServerLimits {
  host: string;
  port: number;
  maxPayloadBytes: number;
  /** Largest WebSocket frame; defaults to maxPayloadBytes. The msgqueue raises it for batched link frames. */
  maxFrameBytes?: number;
  pingIntervalMs: number;
  allowedOrigins: readonly string[];
  maxConnections: number;
  maxConnectionsPerUser: number;
  handshakeTimeoutMs: number;
  metricsAuth: boolean;
}

export interface ServiceServerOptions {
  service: string;
  limits: ServerLimits;
  tls: TlsFiles;
  auth: Authenticator;
  log: Logger;
  metrics: BaseMetrics;
  routes: readonly WsRoute[];
  isReady(): boolean;
  /** Extra plain-HTTP handlers (e.g. POST /v1/tickets); return true when handled. */
  http?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;
}

export interface ServiceServer {
  listen(): Promise<AddressInfo>;
  /** Stops accepting, closes every WebSocket with `code` (1001 by default), closes the server. */
  close(code?: number, reason?: string): Promise<void>;
  readonly connections: ReadonlySet<WebSocket>;
  readonly server: Server;
  /** False once close() began: /readyz answers 503 from then on. */
  readonly accepting: boolean;
}

interface Tracked {
  user: string;
  alive: boolean;
}

function rejectUpgrade(socket: Socket, code: HttpErrorCode, extra: Record<string, string> = {}): void {
  const { status, text } = HTTP_ERRORS[code];
  const headers = Object.entries({
    'Content-Type': 'text/plain',
    'Content-Length': String(Buffer.byteLength(text) + 1),
    Connection: 'close',
    ...extra,
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${statusText(status)}\r\n${headers}\r\n${text}\n`);
  socket.destroy();
}

function statusText(status: number): string {
  return (
    (
      {
        400: 'Bad Request',
        401: 'Unauthorized',
        403: 'Forbidden',
        404: 'Not Found',
        405: 'Method Not Allowed',
        503: 'Service Unavailable',
      } as Record<number, string>
    )[status] ?? 'Error'
  );
}

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="wsq"' };

export function sendHttpError(res: ServerResponse, code: HttpErrorCode, extra: Record<string, string> = {}): void {
  const { status, text } = HTTP_ERRORS[code];
  res.writeHead(status, { 'Content-Type': 'text/plain', ...extra }).end(text + '\n');
}

export function createServiceServer(opts: ServiceServerOptions): ServiceServer {
  const { limits, log, metrics, auth } = opts;
  const routes = new Map(opts.routes.map((r) => [r.path, r]));
  const tracked = new Map<WebSocket, Tracked>();
  const perUser = new Map<string, number>();
  let pending = 0;
  let accepting = true;
  let heartbeat: NodeJS.Timeout | undefined;

  const server = createServer({
    cert: opts.tls.cert,
    key: opts.tls.key,
    minVersion: 'TLSv1.2',
    headersTimeout: limits.handshakeTimeoutMs,
    requestTimeout: limits.handshakeTimeoutMs * 3,
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxFrameBytes ?? limits.maxPayloadBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (offered, req) => pickProtocol(offered, routeOf.get(req)),
  });
  const routeOf = new WeakMap<IncomingMessage, WsRoute>();

  server.on('request', (req, res) => {
    void handleRequest(req, res).catch((err: unknown) => {
      log.error({ err }, 'request handler failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void handleUpgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'upgrade failed');
      socket.destroy();
    });
  });
  server.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
  server.on('clientError', (_err, socket) => socket.destroy());

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/readyz') {
      const ready = accepting && opts.isReady();
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      if (limits.metricsAuth && !(await auth.authenticate(req))) {
        metrics.authFailures.inc({ reason: 'metrics' });
        sendHttpError(res, 'UNAUTHORIZED', BASIC_CHALLENGE);
        return;
      }
      res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(await metrics.registry.metrics());
      return;
    }
    if (opts.http && (await opts.http(req, res, url))) return;
    if (routes.has(url.pathname)) {
      // A plain request to a WebSocket path: 401 without valid credentials, else 400.
      if (!(await auth.authenticate(req))) {
        metrics.authFailures.inc({ reason: 'bad_credentials' });
        sendHttpError(res, 'UNAUTHORIZED', BASIC_CHALLENGE);
        return;
      }
      sendHttpError(res, 'NOT_WEBSOCKET');
      return;
    }
    sendHttpError(res, 'NOT_FOUND');
  }

  async function handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const route = routes.get(url.pathname);
    if (!route) return rejectUpgrade(socket, 'NOT_FOUND');
    if (!accepting) return rejectUpgrade(socket, 'OVERLOADED');
    if (!originAllowed(limits.allowedOrigins, req.headers.origin)) {
      metrics.authFailures.inc({ reason: 'origin' });
      return rejectUpgrade(socket, 'FORBIDDEN_ORIGIN');
    }
    if (tracked.size + pending >= limits.maxConnections) {
      metrics.closes.inc({ reason: 'connection_limit' });
      return rejectUpgrade(socket, 'OVERLOADED');
    }
    pending++;
    let principal: Principal | null;
    try {
      principal = await auth.authenticate(req);
    } finally {
      pending--;
    }
    if (!principal) {
      metrics.authFailures.inc({ reason: 'bad_credentials' });
      log.info({ path: url.pathname, remote: req.socket.remoteAddress }, 'upgrade refused: bad credentials');
      return rejectUpgrade(socket, 'UNAUTHORIZED', BASIC_CHALLENGE);
    }
    if ((perUser.get(principal.name) ?? 0) >= limits.maxConnectionsPerUser) {
      metrics.closes.inc({ reason: 'user_connection_limit' });
      return rejectUpgrade(socket, 'OVERLOADED');
    }
    const offered = parseProtocols(req.headers['sec-websocket-protocol']);
    if (pickProtocol(offered, route) === false && (offered.size > 0 || !route.legacy)) {
      return rejectUpgrade(socket, 'BAD_SUBPROTOCOL');
    }
    if (socket.destroyed) return;
    routeOf.set(req, route);
    const who = principal;
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, route, who, req));
  }

  function accept(ws: WebSocket, route: WsRoute, principal: Principal, req: IncomingMessage): void {
    const id = connectionId();
    const connLog = log.child({ conn: id });
    tracked.set(ws, { user: principal.name, alive: true });
    perUser.set(principal.name, (perUser.get(principal.name) ?? 0) + 1);
    metrics.connectionsOpen.inc({ endpoint: route.path });
    metrics.connectionsTotal.inc({ endpoint: route.path });
    ws.on('pong', () => {
      const t = tracked.get(ws);
      if (t) t.alive = true;
    });
    ws.on('error', (err) => connLog.debug({ err: err.message }, 'socket error'));
    ws.on('close', (code) => {
      tracked.delete(ws);
      const left = (perUser.get(principal.name) ?? 1) - 1;
      if (left === 0) perUser.delete(principal.name);
      else perUser.set(principal.name, left);
      metrics.connectionsOpen.dec({ endpoint: route.path });
      connLog.debug({ code }, 'connection closed');
    });
    connLog.debug({ path: route.path, user: principal.name, protocol: ws.protocol || 'legacy' }, 'connection open');
    route.onConnection(ws, { principal, protocol: ws.protocol, req, log: connLog, id });
  }

  function beat(): void {
    for (const [ws, t] of tracked) {
      if (!t.alive) {
        metrics.closes.inc({ reason: 'ping_timeout' });
        ws.terminate();
        continue;
      }
      t.alive = false;
      ws.ping();
    }
  }

  return {
    server,
    connections: tracked as unknown as ReadonlySet<WebSocket>,
    get accepting() {
      return accepting;
    },
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(limits.port, limits.host, () => {
          server.off('error', reject);
          heartbeat = setInterval(beat, limits.pingIntervalMs);
          heartbeat.unref();
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close(code = CLOSE.GOING_AWAY, reason = 'server shutting down') {
      accepting = false;
      clearInterval(heartbeat);
      const closing = [...tracked.keys()].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.close(code, reason);
            // A peer that never answers the close handshake is cut off.
            setTimeout(() => ws.terminate(), 2000).unref();
          }),
      );
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(closing);
      server.closeAllConnections();
      await stopped;
    },
  };
}

function parseProtocols(header: string | undefined): Set<string> {
  if (!header) return new Set();
  return new Set(
    header
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );
}

function pickProtocol(offered: Set<string>, route: WsRoute | undefined): string | false {
  if (!route) return false;
  for (const p of route.protocols) if (offered.has(p)) return p;
  return false;
}
