/**
 * The HTTPS + WebSocket front every service shares: /healthz, /readyz, /metrics, and WebSocket
 * routes whose upgrades are checked (path, Origin, limits, Basic Auth, subprotocol) before any
 * WebSocket exists (upgrade-handler.ts). It owns the heartbeat: one timer pings every socket
 * and drops those that did not answer the previous ping (connections.ts). Browsers, which
 * cannot send Authorization on a WebSocket, get a single-use ticket from `POST /v1/tickets`
 * and upgrade with `?ticket=…` instead. Plain requests are routed by request-router.ts.
 *
 * Slow or half-open clients are bounded: the TLS handshake and then the request headers must
 * each complete within handshakeTimeoutMs (Node's headersTimeout, checked every
 * connectionsCheckingInterval, which is set to a fraction of it), and the server holds at most
 * 2 × maxConnections sockets in all (open WebSockets plus connections still in a handshake).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Authenticator } from './auth.js';
import { CLOSE, ConfigError } from '../protocol/errors.js';
import type { Logger } from '../observe/log.js';
import type { BaseMetrics } from '../observe/metrics.js';
import { createConnections } from './connections.js';
import { createIdentify } from './identify.js';
import { originChecker } from './origins.js';
import { createHttpRouter, type HttpRoute } from './http-routes.js';
import { createProbes } from './probes.js';
import { createRequestRouter, type HttpHandler } from './request-router.js';
import type { WsRoute } from './routes.js';
import type { ServerLimits } from './server-limits.js';
import { createTicketEndpoint } from './ticket-endpoint.js';
import type { TicketStore } from './tickets.js';
import type { TlsFiles } from './tls.js';
import { createUpgradeHandler } from './upgrade-handler.js';

export type { ConnectionContext, WsRoute } from './routes.js';
export type { ServerLimits } from './server-limits.js';

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
  /** Plain HTTP routes (method + path → handler with the authenticated principal). */
  httpRoutes?: readonly HttpRoute[];
  /** Extra plain-HTTP handlers; return true when handled. */
  http?: HttpHandler;
}

export interface ServiceServer {
  listen(): Promise<AddressInfo>;
  /** Stops accepting, closes every WebSocket with `code` (1001 by default), closes the server. */
  close(code?: number, reason?: string): Promise<void>;
  readonly server: Server;
  /** False once close() began: /readyz answers 503 from then on. */
  readonly accepting: boolean;
}

export { sendHttpError } from './http-replies.js';

export function createServiceServer(opts: ServiceServerOptions): ServiceServer {
  const { limits, log, metrics } = opts;
  const routes = new Map(opts.routes.map((r) => [r.path, r]));
  const connections = createConnections(log, metrics);
  let accepting = true;
  let heartbeat: NodeJS.Timeout | undefined;

  const server = createServer({
    cert: opts.tls.cert,
    key: opts.tls.key,
    minVersion: 'TLSv1.2',
    handshakeTimeout: limits.handshakeTimeoutMs,
    headersTimeout: limits.handshakeTimeoutMs,
    requestTimeout: limits.handshakeTimeoutMs * 3,
    // Node only enforces headersTimeout when it checks, every 30 s by default.
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.handshakeTimeoutMs / 4))),
  });
  server.maxConnections = 2 * limits.maxConnections;
  const originAllowed = originChecker(limits.allowedOrigins);
  const identify = createIdentify(opts.auth, metrics, log);
  const ticketEndpoint =
    opts.tickets && createTicketEndpoint({ tickets: opts.tickets, originAllowed, identify, metrics, log });
  const probe = createProbes({
    metrics,
    metricsAuth: limits.metricsAuth,
    isReady: () => accepting && opts.isReady(),
    identify,
  });
  const httpRouter = opts.httpRoutes && createHttpRouter({ routes: opts.httpRoutes, identify, metrics, log });
  const handleRequest = createRequestRouter({
    routes,
    probe,
    ticketEndpoint,
    httpRouter,
    http: opts.http,
    identify,
    metrics,
  });
  const handleUpgrade = createUpgradeHandler({
    limits,
    routes,
    connections,
    originAllowed,
    identify,
    probe,
    tickets: opts.tickets,
    accepting: () => accepting,
    metrics,
    log,
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
          heartbeat = setInterval(() => connections.beat(), limits.pingIntervalMs);
          heartbeat.unref();
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close(code = CLOSE.GOING_AWAY, reason = 'server shutting down') {
      accepting = false;
      clearInterval(heartbeat);
      const closing = connections.closeAll(code, reason);
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await closing;
      server.closeAllConnections();
      await stopped;
    },
  };
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
