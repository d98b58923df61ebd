/**
 * The open WebSockets of one service server: how many there are in all and per user (plus
 * upgrades still checking credentials), the heartbeat that drops sockets which did not answer
 * the previous ping, and closing them all on shutdown.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { Principal } from './auth.js';
import { connectionId, type Logger } from '../observe/log.js';
import { closeReasonOfWsError, type BaseMetrics } from '../observe/metrics.js';
import type { WsRoute } from './routes.js';

interface Tracked {
  user: string;
  alive: boolean;
}

export interface Connections {
  /** Open WebSockets plus upgrades still checking credentials. */
  readonly count: number;
  /** Open WebSockets of one user. */
  countOf(user: string): number;
  /** Counts an upgrade as a connection while its credentials are checked. */
  whilePending<T>(check: () => Promise<T>): Promise<T>;
  /** Tracks a new WebSocket and hands it to its route. */
  accept(ws: WebSocket, route: WsRoute, principal: Principal, req: IncomingMessage): void;
  /** One heartbeat: pings every socket, terminating those that did not answer the last ping. */
  beat(): void;
  /** Closes every WebSocket with `code`; resolves once all are closed. */
  closeAll(code: number, reason: string): Promise<void>;
}

export function createConnections(log: Logger, metrics: BaseMetrics): Connections {
  const tracked = new Map<WebSocket, Tracked>();
  const perUser = new Map<string, number>();
  let pending = 0;

  return {
    get count() {
      return tracked.size + pending;
    },
    countOf: (user) => perUser.get(user) ?? 0,
    async whilePending(check) {
      pending++;
      try {
        return await check();
      } finally {
        pending--;
      }
    },
    accept(ws, route, principal, req) {
      const id = connectionId();
      const connLog = log.child({ conn: id });
      tracked.set(ws, { user: principal.name, alive: true });
      perUser.set(principal.name, (perUser.get(principal.name) ?? 0) + 1);
      metrics.connectionsOpen.inc({ path: route.path });
      metrics.connectionsTotal.inc({ path: route.path });
      // Bytes are counted at the socket (read at scrape time and at close), not per message.
      const untrack = metrics.traffic.track(route.path, req.socket);
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
        metrics.connectionsOpen.dec({ path: route.path });
        untrack();
        connLog.debug({ code }, 'connection closed');
      });
      connLog.debug({ path: route.path, user: principal.name, protocol: ws.protocol || 'legacy' }, 'connection open');
      route.onConnection(ws, { principal, protocol: ws.protocol, req, log: connLog, id });
    },
    beat() {
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
    },
    async closeAll(code, reason) {
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
      await Promise.all(closing);
    },
  };
}
