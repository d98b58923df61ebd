/**
 * What a WebSocket route is (a path, the subprotocols it speaks, its connection handler) and
 * how an upgrade's offered subprotocols are matched against it.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Principal } from './auth.js';
import type { Logger } from '../observe/log.js';

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

export function parseProtocols(header: string | undefined): Set<string> {
  if (!header) return new Set();
  return new Set(
    header
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );
}

export function pickProtocol(offered: Set<string>, route: WsRoute | undefined): string | false {
  if (!route) return false;
  for (const p of route.protocols) if (offered.has(p)) return p;
  return false;
}
