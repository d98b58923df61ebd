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
 *
 * The certificate and key are re-read when their files change and on reloadTls() (SIGHUP),
 * without dropping a connection (tls-reload.ts). With `tls: null` (--tls=false) the same front
 * serves plain HTTP and WebSocket, for a TLS-terminating proxy in front; Basic Auth still applies.
 */
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Authenticator } from './auth.js';
import { CLOSE, ConfigError } from '../protocol/errors.js';
import type { Logger } from '../observe/log.js';
import type { BaseMetrics } from '../observe/metrics.js';
import { createConnections } from './connections.js';
import { createIdentify } from './identify.js';
import { originChecker } from './origins.js';
import { createApiRoutes, type ApiRoute } from './api-routes.js';
import { createProbes } from './probes.js';
import { createRequestRouter, type HttpHandler } from './request-router.js';
import type { WsRoute } from './routes.js';
import type { ServerLimits } from './server-limits.js';
import { createTicketEndpoint } from './ticket-endpoint.js';
import type { TicketStore } from './tickets.js';
import type { TlsFiles } from './tls.js';
import { watchTlsFiles, type TlsReloader } from './tls-reload.js';
import { createUpgradeHandler } from './upgrade-handler.js';

export type { ConnectionContext, WsRoute } from './routes.js';
export type { ServerLimits } from './server-limits.js';

export interface ServiceServerOptions {
  service: string;
  limits: ServerLimits;
  /** The certificate and key served; null serves plain HTTP/WS (--tls=false, behind a TLS proxy). */
  tls: TlsFiles | null;
  /** The files `tls` came from: watched and re-read by reloadTls(), so a rotation needs no restart. */
  tlsPaths?: { cert: string; key: string };
  /** Quiet time after a certificate file event before it is read (default 100 ms). */
  tlsReloadDelayMs?: number;
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
  http?: HttpHandler;
}

export interface ServiceServer {
  listen(): Promise<AddressInfo>;
  /** Stops accepting, closes every WebSocket with `code` (1001 by default), closes the server. */
  close(code?: number, reason?: string): Promise<void>;
  readonly server: Server;
  /** False once close() began: /readyz answers 503 from then on. */
  readonly accepting: boolean;
  /** Re-reads the certificate and key (SIGHUP); true when a new pair is now served. */
  reloadTls(): boolean;
}

export { sendHttpError } from './http-replies.js';

export function createServiceServer(opts: ServiceServerOptions): ServiceServer {
  const { limits, log, metrics } = opts;
  const routes = new Map(opts.routes.map((r) => [r.path, r]));
  const connections = createConnections(log, metrics);
  let accepting = true;
  let heartbeat: NodeJS.Timeout | undefined;

  const httpOptions = {
    headersTimeout: limits.handshakeTimeoutMs,
    requestTimeout: Math.max(limits.requestTimeoutMs ?? limits.handshakeTimeoutMs * 3, limits.handshakeTimeoutMs),
    // Node only enforces headersTimeout when it checks, every 30 s by default.
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(limits.handshakeTimeoutMs / 4))),
  };
  const tls = opts.tls;
  const secure = tls
    ? createHttpsServer({
        ...httpOptions,
        cert: tls.cert,
        key: tls.key,
        minVersion: 'TLSv1.2',
        handshakeTimeout: limits.handshakeTimeoutMs,
      })
    : undefined;
  const server: Server = secure ?? createHttpServer(httpOptions);
  server.maxConnections = 2 * limits.maxConnections;
  if (!tls) {
    log.warn(
      'TLS is off (--tls=false): plain HTTP and WebSocket, credentials in clear on the wire; run only behind a TLS-terminating proxy',
    );
  }
  let tlsReloader: TlsReloader | undefined;
  if (secure && tls && opts.tlsPaths) {
    tlsReloader = watchTlsFiles({
      paths: opts.tlsPaths,
      initial: tls,
      debounceMs: opts.tlsReloadDelayMs,
      // Open connections keep the context they shook hands with; new handshakes get this one.
      apply: (pair) => secure.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' }),
      onReload: (trigger) => log.info({ trigger }, 'TLS certificate reloaded'),
      onError: (err) => log.warn({ err: err.message }, 'TLS certificate reload failed; the previous one stays'),
    });
  }
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
  const api = createApiRoutes({
    routes: opts.api ?? [],
    originAllowed,
    identify,
    tickets: opts.tickets,
    metrics,
    log,
  });
  const handleRequest = createRequestRouter({
    routes,
    probe,
    ticketEndpoint,
    openapi: opts.openapi,
    api,
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
  secure?.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
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
    reloadTls() {
      return tlsReloader?.reload() ?? false;
    },
    listen() {
      return new Promise((resolve, reject) => {
        const fail = (err: NodeJS.ErrnoException): void => reject(listenError(err, limits.host, limits.port));
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
      tlsReloader?.close();
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
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'ENOTFOUND') {
    return new ConfigError('host', `cannot listen on ${host}: the name does not resolve (${err.message})`);
  }
  if (err.code === 'EADDRNOTAVAIL') {
    return new ConfigError('host', `cannot listen on ${host}: not an address of this machine (${err.message})`);
  }
  if (err.code === 'EADDRINUSE') {
    // Still exit 1 (not the operator's typo: another process holds the port), with the fix.
    const inUse = new Error(
      `port ${port} on ${host} is in use by another process (EADDRINUSE): choose another with --port (env WSQ_PORT)`,
      { cause: err },
    ) as NodeJS.ErrnoException;
    inUse.code = 'EADDRINUSE';
    return inUse;
  }
  return err;
}
