/** matchPath: the literal and `:param` path segments of the API routes (api-routes.ts). */
import t from 'tap';
import { matchPath } from '../src/front/api-routes.js';

t.test('path templates match literal and :param segments, decoded', async (t) => {
  t.same(matchPath('/v1/consumers', '/v1/consumers'), {});
  t.same(matchPath('/v1/consumers/:name', '/v1/consumers/a%2Fb%20c'), { name: 'a/b c' });
  t.equal(matchPath('/v1/consumers/:name', '/v1/consumers/'), null, 'an empty segment names nothing');
  t.equal(matchPath('/v1/consumers/:name', '/v1/consumers'), null);
  t.equal(matchPath('/v1/consumers', '/v1/consumers/x'), null);
  t.equal(matchPath('/v1/consumers', '/v1/consumerz'), null);
  t.equal(matchPath('/v1/consumers/:name', '/v1/consumers/%E0%A4%A'), null, 'a malformed escape');
});
