/**
 * The plain endpoints every service answers: /healthz, /readyz and /metrics. GET and HEAD get
 * the same answer (Node drops the body of a HEAD response); any other method gets 405 with
 * `Allow`. Answers are Replies, so the service server can write them as a response or, for a
 * request that asked to upgrade, on the raw socket.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from './auth.js';
import { BASIC_CHALLENGE, errorReply, type Reply } from './http-replies.js';
import type { BaseMetrics } from '../observe/metrics.js';

export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

const PROBE_METHODS = 'GET, HEAD';

export interface ProbeDeps {
  metrics: BaseMetrics;
  /** Require Basic Auth on /metrics. */
  metricsAuth: boolean;
  /** Whether the service can do its job now (listening, linked, not closing). */
  isReady(): boolean;
  /** The request's principal; 'busy' when too many password checks are in progress. */
  identify(req: IncomingMessage): Promise<Principal | null | 'busy'>;
}

/** The answer to a request for one of PROBE_PATHS. */
export type Probe = (req: IncomingMessage, path: string) => Promise<Reply>;

export function createProbes(deps: ProbeDeps): Probe {
  const { metrics } = deps;
  return async function probe(req, path) {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return errorReply('METHOD_NOT_ALLOWED', { Allow: PROBE_METHODS });
    if (path === '/healthz') return text(200, 'ok\n');
    if (path === '/readyz') return deps.isReady() ? text(200, 'ready\n') : text(503, 'not ready\n');
    // /metrics
    const who = deps.metricsAuth ? await deps.identify(req) : 'anonymous';
    if (who === 'busy') return errorReply('OVERLOADED');
    if (who === null) {
      metrics.authFailures.inc({ reason: 'metrics' });
      return errorReply('UNAUTHORIZED', BASIC_CHALLENGE);
    }
    metrics.ready.set(deps.isReady() ? 1 : 0);
    return {
      status: 200,
      headers: { 'Content-Type': metrics.registry.contentType },
      body: await metrics.registry.metrics(),
    };
  };
}

function text(status: number, body: string): Reply {
  return { status, headers: { 'Content-Type': 'text/plain' }, body };
}
