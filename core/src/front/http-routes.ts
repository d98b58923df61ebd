/**
 * Plain HTTP routes a service adds beside its WebSockets (e.g. the msgqueue's admin API): a
 * method and a path template (literal segments and `:param` segments) mapped to a handler
 * that gets the authenticated principal. The server checks Basic Auth (401 with the
 * challenge) and the route's `authorize` (403) before the handler runs; a known path with
 * another method gets 405 with `Allow`. Errors use the JSON shape `{"error":{"code","message"}}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from './auth.js';
import { BASIC_CHALLENGE, jsonErrorReply, sendReply } from './http-replies.js';
import type { Logger } from '../observe/log.js';
import type { BaseMetrics } from '../observe/metrics.js';

export interface HttpContext {
  principal: Principal;
  /** The `:param` segments of the path, decoded. */
  params: Readonly<Record<string, string>>;
  url: URL;
  log: Logger;
}

export interface HttpRoute {
  method: string;
  /** e.g. `/v1/consumers/:name` */
  path: string;
  /** Whether the principal may call the route (default: every authenticated user); else 403. */
  authorize?(principal: Principal): boolean;
  handle(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): void | Promise<void>;
}

export interface HttpRouterDeps {
  routes: readonly HttpRoute[];
  identify(req: IncomingMessage): Promise<Principal | null | 'busy'>;
  metrics: BaseMetrics;
  log: Logger;
}

/** Answers a request when one of the routes' paths matches it (true), else leaves it (false). */
export type HttpRouter = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

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

export function createHttpRouter(deps: HttpRouterDeps): HttpRouter {
  const { routes, metrics, log } = deps;
  return async function route(req, res, url) {
    const matching = routes
      .map((r) => ({ r, params: matchPath(r.path, url.pathname) }))
      .filter((m): m is { r: HttpRoute; params: Record<string, string> } => m.params !== null);
    if (matching.length === 0) return false;
    const hit = matching.find((m) => m.r.method === req.method);
    if (!hit) {
      sendReply(
        res,
        jsonErrorReply('METHOD_NOT_ALLOWED', undefined, { Allow: matching.map((m) => m.r.method).join(', ') }),
      );
      return true;
    }
    const principal = await deps.identify(req);
    if (principal === 'busy') {
      sendReply(res, jsonErrorReply('OVERLOADED', 'too many password checks in progress'));
      return true;
    }
    if (!principal) {
      metrics.authFailures.inc({ reason: 'bad_credentials' });
      sendReply(res, jsonErrorReply('UNAUTHORIZED', undefined, BASIC_CHALLENGE));
      return true;
    }
    if (hit.r.authorize && !hit.r.authorize(principal)) {
      sendReply(res, jsonErrorReply('FORBIDDEN', `${principal.name} may not ${req.method} ${hit.r.path}`));
      return true;
    }
    await hit.r.handle(req, res, { principal, params: hit.params, url, log });
    return true;
  };
}
