/**
 * Who a request is: the authenticator's answer, with a password-check queue that is full
 * (AuthBusyError) turned into 'busy' (counted and logged) so callers can answer 503.
 */
import type { IncomingMessage } from 'node:http';
import type { Authenticator, Principal } from './auth.js';
import type { Logger } from '../observe/log.js';
import type { BaseMetrics } from '../observe/metrics.js';
import { AuthBusyError } from './verify-gate.js';

/** The request's principal; 'busy' when too many password checks are in progress. */
export type Identify = (req: IncomingMessage) => Promise<Principal | null | 'busy'>;

export function createIdentify(auth: Authenticator, metrics: BaseMetrics, log: Logger): Identify {
  return async function identify(req) {
    try {
      return await auth.authenticate(req);
    } catch (err) {
      if (!(err instanceof AuthBusyError)) throw err;
      metrics.authFailures.inc({ reason: 'auth_busy' });
      log.warn({ remote: req.socket.remoteAddress }, 'refused: too many password checks in progress');
      return 'busy';
    }
  };
}
