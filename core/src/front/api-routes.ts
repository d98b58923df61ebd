/**
 * Routing of the JSON HTTP API (DESIGN section 7): a path's methods (405 with `Allow` for the
 * others), the Origin check of --allowed-origins (allowed cross-origin requests get CORS
 * headers, never credentials), and authentication before the handler runs: Basic Auth, or,
 * on routes that take them, a single-use `?ticket=` (EventSource cannot set headers), then the
 * route's own `authorize` (403). A path is literal segments and `:param` segments (e.g. the
 * msgqueue's `/v1/consumers/:name`). Every refusal is a JSON error body from the error table.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from './auth.js';
import { sendApiError } from './http-api.js';
import { BASIC_CHALLENGE } from './http-replies.js';
import type { Logger } from '../observe/log.js';
import type { BaseMetrics } from '../observe/metrics.js';
import type { OriginCheck } from './origins.js';
import type { TicketStore } from './tickets.js';

export interface ApiContext {
  principal: Principal;
  /** The `:param` segments of the route's path, decoded. */
  params: Readonly<Record<string, string>>;
  /** The request URL (a ticket is removed from it). */
  url: URL;
  /** CORS headers to add to the answer of an allowed cross-origin request ({} otherwise). */
  cors: Readonly<Record<string, string>>;
  log: Logger;
}

export interface ApiRoute {
  /** e.g. `/v1/messages`, or `/v1/consumers/:name` */
  path: string;
  /** Methods served (HEAD is not implied). */
  methods: readonly string[];
  /** Whether `?ticket=` may stand in for Basic Auth (the store must be configured too). */
  tickets?: boolean;
  /** Whether the principal may call the route (default: every authenticated user); else 403. */
  authorize?(principal: Principal): boolean;
  handle(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): void | Promise<void>;
}

export interface ApiDeps {
  routes: readonly ApiRoute[];
  originAllowed: OriginCheck;
  identify(req: IncomingMessage): Promise<Principal | null | 'busy'>;
  tickets?: TicketStore;
  metrics: BaseMetrics;
  log: Logger;
}

/** The API dispatcher: answers and returns true for a request to one of `routes`, else false. */
export function createApiRoutes(deps: ApiDeps) {
  const byPath = new Map(deps.routes.filter((r) => !r.path.includes(':')).map((r) => [r.path, r]));
  const templated = deps.routes.filter((r) => r.path.includes(':'));
  const { metrics, log } = deps;

  /** The route serving `pathname`, with its params: a literal path first, then the templates. */
  function find(pathname: string): { route: ApiRoute; params: Record<string, string> } | undefined {
    const literal = byPath.get(pathname);
    if (literal) return { route: literal, params: {} };
    for (const route of templated) {
      const params = matchPath(route.path, pathname);
      if (params) return { route, params };
    }
    return undefined;
  }

  return async function dispatch(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const found = find(url.pathname);
    if (!found) return false;
    const { route, params } = found;
    const origin = req.headers.origin;
    if (!deps.originAllowed(origin)) {
      metrics.authFailures.inc({ reason: 'origin' });
      sendApiError(res, 'FORBIDDEN_ORIGIN');
      return true;
    }
    const cors: Record<string, string> =
      origin === undefined ? {} : { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    if (!route.methods.includes(req.method ?? '')) {
      sendApiError(res, 'METHOD_NOT_ALLOWED', undefined, { Allow: route.methods.join(', '), ...cors });
      return true;
    }
    const principal = await authenticate(req, url, route);
    if (principal === 'busy') {
      sendApiError(res, 'OVERLOADED', 'too many password checks in progress; retry', cors);
      return true;
    }
    if (!principal) {
      sendApiError(res, 'UNAUTHORIZED', undefined, { ...BASIC_CHALLENGE, ...cors });
      return true;
    }
    if (route.authorize && !route.authorize(principal)) {
      sendApiError(res, 'FORBIDDEN', `${principal.name} may not ${req.method} ${route.path}`, cors);
      return true;
    }
    try {
      await route.handle(req, res, { principal, params, url, cors, log });
    } catch (err) {
      log.error({ err, path: url.pathname }, 'API request failed');
      sendApiError(res, 'INTERNAL', 'an unexpected server error', cors);
    }
    return true;
  };

  async function authenticate(req: IncomingMessage, url: URL, route: ApiRoute): Promise<Principal | null | 'busy'> {
    const ticket = url.searchParams.get('ticket');
    if (ticket !== null && route.tickets && deps.tickets && req.headers.authorization === undefined) {
      url.searchParams.delete('ticket');
      const who = deps.tickets.redeem(ticket);
      if (!who) {
        metrics.authFailures.inc({ reason: 'bad_ticket' });
        log.info(
          { path: url.pathname, remote: req.socket.remoteAddress },
          'request refused: unknown, used or expired ticket',
        );
      }
      return who;
    }
    const who = await deps.identify(req);
    if (who === null) metrics.authFailures.inc({ reason: 'bad_credentials' });
    return who;
  }
}

/** The params of `pathname` under `template`, or null when it does not match. */
export function matchPath(template: string, pathname: string): Record<string, string> | null {
  const want = template.split('/');
  const got = pathname.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith(':')) {
      if (got[i] === '') return null;
      try {
        params[w.slice(1)] = decodeURIComponent(got[i]!);
      } catch {
        return null; // a malformed escape names nothing
      }
    } else if (w !== got[i]) {
      return null;
    }
  }
  return params;
}
