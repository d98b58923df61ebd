/**
 * The `upgrade` event of a service server: every check (path, closing, Origin, connection
 * limits, Basic Auth or a browser ticket, per-user limit, subprotocol) runs before any
 * WebSocket exists; a refused upgrade gets a plain HTTP answer on the raw socket. Probes that
 * arrive with an Upgrade header get the answer a plain request would.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Principal } from './auth.js';
import { HTTP_ERRORS } from '../protocol/errors.js';
import { BASIC_CHALLENGE, rejectUpgrade, sendRawReply } from './http-replies.js';
import type { Logger } from '../observe/log.js';
import type { BaseMetrics } from '../observe/metrics.js';
import type { Connections } from './connections.js';
import type { Identify } from './identify.js';
import type { OriginCheck } from './origins.js';
import { PROBE_PATHS, type Probe } from './probes.js';
import { parseProtocols, pickProtocol, type WsRoute } from './routes.js';
import type { ServerLimits } from './server-limits.js';
import { TICKETS_PATH } from './ticket-endpoint.js';
import type { TicketStore } from './tickets.js';

export interface UpgradeDeps {
  limits: ServerLimits;
  routes: ReadonlyMap<string, WsRoute>;
  connections: Connections;
  originAllowed: OriginCheck;
  identify: Identify;
  probe: Probe;
  /** When set, upgrades accept `?ticket=` and TICKETS_PATH is a plain-HTTP path. */
  tickets: TicketStore | undefined;
  /** False once the server began closing. */
  accepting(): boolean;
  metrics: BaseMetrics;
  log: Logger;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => Promise<void>;

export function createUpgradeHandler(deps: UpgradeDeps): UpgradeHandler {
  const { limits, routes, connections, identify, probe, metrics, log } = deps;
  const routeOf = new WeakMap<IncomingMessage, WsRoute>();
  /** The ticket an upgrade authenticated with, redeemed by verifyClient. */
  const ticketOf = new WeakMap<IncomingMessage, string>();
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
      if (ticket === undefined || deps.tickets?.redeem(ticket)) return done(true);
      refuseTicket(req);
      const { status, text } = HTTP_ERRORS.UNAUTHORIZED;
      done(false, status, text + '\n', { ...BASIC_CHALLENGE, 'Content-Type': 'text/plain' });
    },
  });

  function refuseTicket(req: IncomingMessage): void {
    metrics.authFailures.inc({ reason: 'bad_ticket' });
    log.info(
      { path: new URL(req.url ?? '/', 'https://localhost').pathname, remote: req.socket.remoteAddress },
      'upgrade refused: unknown, used or expired ticket',
    );
  }

  return async function handleUpgrade(req, socket, head) {
    const url = new URL(req.url ?? '/', 'https://localhost');
    // A probe that sends Upgrade (some proxies forward it) gets the answer a plain request would.
    if (PROBE_PATHS.has(url.pathname)) {
      return sendRawReply(socket, await probe(req, url.pathname), req.method !== 'HEAD');
    }
    const route = routes.get(url.pathname);
    if (!route) {
      return rejectUpgrade(socket, deps.tickets && url.pathname === TICKETS_PATH ? 'NOT_UPGRADABLE' : 'NOT_FOUND');
    }
    if (!deps.accepting()) return rejectUpgrade(socket, 'OVERLOADED');
    if (!deps.originAllowed(req.headers.origin)) {
      metrics.authFailures.inc({ reason: 'origin' });
      return rejectUpgrade(socket, 'FORBIDDEN_ORIGIN');
    }
    if (connections.count >= limits.maxConnections) {
      metrics.closes.inc({ reason: 'connection_limit' });
      return rejectUpgrade(socket, 'OVERLOADED');
    }
    const ticket = url.searchParams.get('ticket');
    let principal: Principal | null | 'busy';
    if (ticket !== null && req.headers.authorization === undefined) {
      // Only peeked here: verifyClient redeems it once every other check passed.
      principal = deps.tickets?.peek(ticket) ?? null;
      if (!principal) {
        refuseTicket(req);
        return rejectUpgrade(socket, 'UNAUTHORIZED', BASIC_CHALLENGE);
      }
      ticketOf.set(req, ticket);
      // Routes never see the ticket (nor could they log it).
      url.searchParams.delete('ticket');
      req.url = url.pathname + url.search;
    } else {
      principal = await connections.whilePending(() => identify(req));
    }
    if (principal === 'busy') return rejectUpgrade(socket, 'OVERLOADED');
    if (!principal) {
      metrics.authFailures.inc({ reason: 'bad_credentials' });
      log.info({ path: url.pathname, remote: req.socket.remoteAddress }, 'upgrade refused: bad credentials');
      return rejectUpgrade(socket, 'UNAUTHORIZED', BASIC_CHALLENGE);
    }
    if (connections.countOf(principal.name) >= limits.maxConnectionsPerUser) {
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
    wss.handleUpgrade(req, socket, head, (ws) => connections.accept(ws, route, who, req));
  };
}
