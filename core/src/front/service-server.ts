/**
 * The HTTPS + WebSocket front every service shares: /healthz, /readyz, /metrics, and WebSocket
 * routes whose upgrades are checked (path, Origin, limits, Basic Auth, subprotocol) before any
 * WebSocket exists. It owns the heartbeat: one timer pings every socket and drops those that
 * did not answer the previous ping. Browsers, which cannot send Authorization on a WebSocket,
 * get a single-use ticket from `POST /v1/tickets` and upgrade with `?ticket=…` instead.
 *
 * Slow or half-open clients are bounded: the TLS handshake and then the request headers must
 * each complete within handshakeTimeoutMs (Node's headersTimeout, checked every
 * connectionsCheckingInterval, which is set to a fraction of it), and the server holds at most
 * 2 × maxConnections sockets in all (open WebSockets plus connections still in a handshake).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Authenticator, Principal } from './auth.js';
import { CLOSE, ConfigError, HTTP_ERRORS } from '../protocol/errors.js';
import { BASIC_CHALLENGE, rejectUpgrade, sendHttpError, sendRawReply, sendReply } from './http-replies.js';
import { connectionId, type Logger } from '../observe/log.js';
import { closeReasonOfWsError, type BaseMetrics } from '../observe/metrics.js';
import { originChecker } from './origins.js';
import { createProbes, PROBE_PATHS } from './probes.js';
import { createTicketEndpoint, TICKETS_PATH } from './ticket-endpoint.js';
import { createApiRoutes, type ApiRoute } from './api-routes.js';
import { sendApiError } from './http-api.js';
import type { TicketStore } from './tickets.js';
import type { TlsFiles } from './tls.js';
import { AuthBusyError } from './verify-gate.js';

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
  /** Offer permessage-deflate; the size limit then applies to the inflated message. Off by default. */
  perMessageDeflate?: boolean;
  pingIntervalMs: number;
  allowedOrigins: readonly string[];
  maxConnections: number;
  maxConnectionsPerUser: number;
  handshakeTimeoutMs: number;
  /** Time for a whole plain request, headers and body (Node's requestTimeout); default 3 × handshakeTimeoutMs. */
  requestTimeoutMs?: number;
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
  /** When set, `POST /v1/tickets` issues browser tickets and upgrades accept `?ticket=`. */
  tickets?: TicketStore;
  /** JSON HTTP API endpoints (api-routes.ts): methods, Origin and authentication checked before they run. */
  api?: readonly ApiRoute[];
  /** The OpenAPI document served at `GET /v1/openapi.json` (without credentials), when set. */
  openapi?: string;
  /** Extra plain-HTTP handlers; return true when handled. */
  http?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;
}

export interface ServiceServer {
  listen(): Promise<AddressInfo>;
  /** Stops accepting, closes every WebSocket with `code` (1001 by default), closes the server. */
  close(code?: number, reason?: string): Promise<void>;
  readonly server: Server;
  /** False once close() began: /readyz answers 503 from then on. */
  readonly accepting: boolean;
}

interface Tracked {
  user: string;
  alive: boolean;
}

export { sendHttpError } from './http-replies.js';

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
    handshakeTimeout: limits.handshakeTimeoutMs,
    headersTimeout: limits.handshakeTimeoutMs,
    requestTimeout: Math.max(limits.requestTimeoutMs ?? limits.handshakeTimeoutMs * 3, limits.handshakeTimeoutMs),
    // Node only enforces headersTimeout when it checks, every 30 s by default.
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.handshakeTimeoutMs / 4))),
  });
  server.maxConnections = 2 * limits.maxConnections;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxFrameBytes ?? limits.maxPayloadBytes,
    perMessageDeflate: limits.perMessageDeflate === true ? { threshold: 1024 } : false,
    clientTracking: false,
    handleProtocols: (offered, req) => pickProtocol(offered, routeOf.get(req)),
    // The last step before the 101, once ws has checked the handshake itself: only here is a
    // ticket used up, so an upgrade refused for any other reason leaves it usable. Redeeming
    // is synchronous, so two upgrades with one ticket cannot both get in.
    verifyClient: ({ req }, done) => {
      const ticket = ticketOf.get(req);
      if (ticket === undefined || opts.tickets?.redeem(ticket)) return done(true);
      refuseTicket(req);
      const { status, text } = HTTP_ERRORS.UNAUTHORIZED;
      done(false, status, text + '\n', { ...BASIC_CHALLENGE, 'Content-Type': 'text/plain' });
    },
  });
  const originAllowed = originChecker(limits.allowedOrigins);
  const routeOf = new WeakMap<IncomingMessage, WsRoute>();
  /** The ticket an upgrade authenticated with, redeemed by verifyClient. */
  const ticketOf = new WeakMap<IncomingMessage, string>();
  const ticketEndpoint =
    opts.tickets && createTicketEndpoint({ tickets: opts.tickets, originAllowed, identify, metrics, log });
  const api = createApiRoutes({
    routes: opts.api ?? [],
    originAllowed,
    identify,
    tickets: opts.tickets,
    metrics,
    log,
  });
  const probe = createProbes({
    metrics,
    metricsAuth: limits.metricsAuth,
    isReady: () => accepting && opts.isReady(),
    identify,
  });

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
  server.on('drop', () => metrics.closes.inc({ reason: 'connection_limit' }));
  server.on('clientError', (err: Error & { code?: string }, socket) => {
    // Like Node's default, but never echoing anything of the request: 408 for a request that
    // did not complete in time (headersTimeout), 400 for one that does not parse.
    if (socket.writable && (socket as Socket).bytesWritten === 0) {
      const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      socket.write(`HTTP/1.1 ${timeout ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\n\r\n`);
    }
    socket.destroy();
  });

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (PROBE_PATHS.has(url.pathname)) return sendReply(res, await probe(req, url.pathname));
    if (ticketEndpoint && url.pathname === TICKETS_PATH) return ticketEndpoint(req, res);
    if (opts.openapi !== undefined && url.pathname === OPENAPI_PATH) return serveOpenapi(req, res, opts.openapi);
    if (await api(req, res, url)) return;
    if (opts.http && (await opts.http(req, res, url))) return;
    if (routes.has(url.pathname)) {
      // A plain request to a WebSocket path: 401 without valid credentials, else 400.
      const who = await identify(req);
      if (who === 'busy') return sendHttpError(res, 'OVERLOADED');
      if (!who) {
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
    // A probe that sends Upgrade (some proxies forward it) gets the answer a plain request would.
    if (PROBE_PATHS.has(url.pathname)) {
      return sendRawReply(socket, await probe(req, url.pathname), req.method !== 'HEAD');
    }
    const route = routes.get(url.pathname);
    if (!route) {
      return rejectUpgrade(socket, ticketEndpoint && url.pathname === TICKETS_PATH ? 'NOT_UPGRADABLE' : 'NOT_FOUND');
    }
    if (!accepting) return rejectUpgrade(socket, 'OVERLOADED');
    if (!originAllowed(req.headers.origin)) {
      metrics.authFailures.inc({ reason: 'origin' });
      return rejectUpgrade(socket, 'FORBIDDEN_ORIGIN');
    }
    if (tracked.size + pending >= limits.maxConnections) {
      metrics.closes.inc({ reason: 'connection_limit' });
      return rejectUpgrade(socket, 'OVERLOADED');
    }
    const ticket = url.searchParams.get('ticket');
    let principal: Principal | null | 'busy';
    if (ticket !== null && req.headers.authorization === undefined) {
      // Only peeked here: verifyClient redeems it once every other check passed.
      principal = opts.tickets?.peek(ticket) ?? null;
      if (!principal) {
        refuseTicket(req);
        return rejectUpgrade(socket, 'UNAUTHORIZED', BASIC_CHALLENGE);
      }
      ticketOf.set(req, ticket);
      // Routes never see the ticket (nor could they log it).
      url.searchParams.delete('ticket');
      req.url = url.pathname + url.search;
    } else {
      pending++;
      try {
        principal = await identify(req);
      } finally {
        pending--;
      }
    }
    if (principal === 'busy') return rejectUpgrade(socket, 'OVERLOADED');
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

  function refuseTicket(req: IncomingMessage): void {
    metrics.authFailures.inc({ reason: 'bad_ticket' });
    log.info(
      { path: new URL(req.url ?? '/', 'https://localhost').pathname, remote: req.socket.remoteAddress },
      'upgrade refused: unknown, used or expired ticket',
    );
  }

  /** The request's principal; 'busy' when too many password checks are in progress. */
  async function identify(req: IncomingMessage): Promise<Principal | null | 'busy'> {
    try {
      return await auth.authenticate(req);
    } catch (err) {
      if (!(err instanceof AuthBusyError)) throw err;
      metrics.authFailures.inc({ reason: 'auth_busy' });
      log.warn({ remote: req.socket.remoteAddress }, 'refused: too many password checks in progress');
      return 'busy';
    }
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
    ws.on('error', (err) => {
      // ws closes the socket itself on a frame it refuses (too large: 1009, not UTF-8: 1007, …).
      const reason = closeReasonOfWsError(err);
      if (!reason) return connLog.debug({ err: err.message }, 'socket error');
      metrics.closes.inc({ reason });
      connLog.info({ reason, err: err.message }, 'connection closed: frame refused');
    });
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
      // A socket we paused on purpose (publisher backpressure) cannot read its pong: it is not dead.
      if (ws.isPaused) continue;
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
    get accepting() {
      return accepting;
    },
    listen() {
      return new Promise((resolve, reject) => {
        const fail = (err: NodeJS.ErrnoException): void => reject(listenError(err, limits.host));
        server.once('error', fail);
        server.listen(limits.port, limits.host, () => {
          server.off('error', fail);
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

export const OPENAPI_PATH = '/v1/openapi.json';

function serveOpenapi(req: IncomingMessage, res: ServerResponse, doc: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendApiError(res, 'METHOD_NOT_ALLOWED', undefined, { Allow: 'GET, HEAD' });
  }
  sendReply(res, { status: 200, headers: { 'Content-Type': 'application/json' }, body: doc });
}

/**
 * A host that does not resolve, or is not an address of this machine, is a configuration
 * error (exit 2 naming host); anything else, such as a port in use, stays what it was.
 */
function listenError(err: NodeJS.ErrnoException, host: string): Error {
  if (err.code === 'ENOTFOUND') {
    return new ConfigError('host', `cannot listen on --host ${host}: the name does not resolve (${err.message})`);
  }
  if (err.code === 'EADDRNOTAVAIL') {
    return new ConfigError('host', `cannot listen on --host ${host}: not an address of this machine (${err.message})`);
  }
  return err;
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
