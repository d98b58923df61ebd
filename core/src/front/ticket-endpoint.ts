/**
 * `POST /v1/tickets`: Basic Auth in, a single-use browser ticket out (see tickets.ts). Origins
 * outside --allowed-origins get 403; allowed ones get CORS headers (never
 * Access-Control-Allow-Credentials) and an answer to their preflight.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from './auth.js';
import { BASIC_CHALLENGE, sendHttpError } from './http-replies.js';
import type { Logger } from '../observe/log.js';
import type { BaseMetrics } from '../observe/metrics.js';
import type { OriginCheck } from './origins.js';
import type { TicketStore } from './tickets.js';

export const TICKETS_PATH = '/v1/tickets';

export interface TicketEndpointDeps {
  tickets: TicketStore;
  /** The service's --allowed-origins check, built once. */
  originAllowed: OriginCheck;
  /** The request's principal; 'busy' when too many password checks are in progress. */
  identify(req: IncomingMessage): Promise<Principal | null | 'busy'>;
  metrics: BaseMetrics;
  log: Logger;
}

export function createTicketEndpoint(deps: TicketEndpointDeps) {
  const { tickets, metrics, log } = deps;
  return async function ticketEndpoint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = req.headers.origin;
    if (!deps.originAllowed(origin)) {
      metrics.authFailures.inc({ reason: 'origin' });
      return sendHttpError(res, 'FORBIDDEN_ORIGIN');
    }
    const cors: Record<string, string> =
      origin === undefined ? {} : { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    if (req.method === 'OPTIONS' && origin !== undefined) {
      res
        .writeHead(204, {
          ...cors,
          'Access-Control-Allow-Methods': 'POST',
          'Access-Control-Allow-Headers': 'Authorization',
          'Access-Control-Max-Age': '600',
        })
        .end();
      return;
    }
    if (req.method !== 'POST') return sendHttpError(res, 'METHOD_NOT_ALLOWED', { Allow: 'POST', ...cors });
    const who = await deps.identify(req);
    if (who === 'busy') return sendHttpError(res, 'OVERLOADED', cors);
    if (!who) {
      metrics.authFailures.inc({ reason: 'bad_credentials' });
      return sendHttpError(res, 'UNAUTHORIZED', { ...BASIC_CHALLENGE, ...cors });
    }
    const issued = tickets.issue(who);
    log.debug({ user: who.name }, 'ticket issued');
    res
      .writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...cors })
      .end(JSON.stringify(issued));
  };
}
