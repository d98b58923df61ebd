/**
 * The admin API of durable consumers, for users with `"admin": true`:
 *
 *   GET    /v1/consumers        → 200 {"consumers":[{name, next, lag, attached, lastSeen}…]}
 *   DELETE /v1/consumers/NAME   → 204; 404 NOT_FOUND unknown; 409 CONFLICT while attached
 */
import { jsonErrorReply, jsonReply, sendReply, type ApiRoute, type Principal } from '@wsq/core';
import type { ConsumerLifecycle } from './lifecycle.js';

export const CONSUMERS_PATH = '/v1/consumers';

const isAdmin = (p: Principal): boolean => p.admin === true;

export function consumerAdminRoutes(lifecycle: ConsumerLifecycle): ApiRoute[] {
  return [
    {
      methods: ['GET'],
      path: CONSUMERS_PATH,
      authorize: isAdmin,
      handle(_req, res) {
        sendReply(res, jsonReply(200, { consumers: lifecycle.list() }));
      },
    },
    {
      methods: ['DELETE'],
      path: `${CONSUMERS_PATH}/:name`,
      authorize: isAdmin,
      handle(_req, res, { params, principal }) {
        const name = params.name!;
        const outcome = lifecycle.remove(name, principal.name);
        switch (outcome) {
          case 'deleted':
            res.writeHead(204).end();
            return;
          case 'unknown':
            return sendReply(res, jsonErrorReply('NOT_FOUND', `no durable consumer named ${JSON.stringify(name)}`));
          case 'attached':
            return sendReply(
              res,
              jsonErrorReply('CONFLICT', `consumer ${JSON.stringify(name)} is attached; stop its subscriber first`),
            );
          default: {
            const never: never = outcome;
            return never;
          }
        }
      },
    },
  ];
}
