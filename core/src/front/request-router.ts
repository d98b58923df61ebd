/**
 * The plain HTTP requests of a service server: probes, the ticket endpoint, the service's
 * API routes and own handlers, then 401/400 for a plain request to a WebSocket path and 404 for anything else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendApiError } from './http-api.js';
import { BASIC_CHALLENGE, sendHttpError, sendReply } from './http-replies.js';
import type { BaseMetrics } from '../observe/metrics.js';
import type { Identify } from './identify.js';
import { PROBE_PATHS, type Probe } from './probes.js';
import type { WsRoute } from './routes.js';
import { TICKETS_PATH } from './ticket-endpoint.js';

/** Extra plain-HTTP handlers; return true when handled. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface RequestRouterDeps {
  routes: ReadonlyMap<string, WsRoute>;
  probe: Probe;
  ticketEndpoint: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  /** The OpenAPI document served at GET /v1/openapi.json, when set. */
  openapi: string | undefined;
  /** The JSON API dispatcher (api-routes.ts): true when it answered. */
  api: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  http: HttpHandler | undefined;
  identify: Identify;
  metrics: BaseMetrics;
}

export type RequestRouter = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createRequestRouter(deps: RequestRouterDeps): RequestRouter {
  const { routes, probe, ticketEndpoint, identify, metrics } = deps;
  return async function handleRequest(req, res) {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (PROBE_PATHS.has(url.pathname)) return sendReply(res, await probe(req, url.pathname));
    if (ticketEndpoint && url.pathname === TICKETS_PATH) return ticketEndpoint(req, res);
    if (deps.openapi !== undefined && url.pathname === OPENAPI_PATH) return serveOpenapi(req, res, deps.openapi);
    if (await deps.api(req, res, url)) return;
    if (deps.http && (await deps.http(req, res, url))) return;
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
  };
}

export const OPENAPI_PATH = '/v1/openapi.json';

function serveOpenapi(req: IncomingMessage, res: ServerResponse, doc: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendApiError(res, 'METHOD_NOT_ALLOWED', undefined, { Allow: 'GET, HEAD' });
  }
  sendReply(res, { status: 200, headers: { 'Content-Type': 'application/json' }, body: doc });
}
