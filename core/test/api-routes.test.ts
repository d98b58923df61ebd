/** The JSON API routing of the service server: methods, Origin, Basic Auth or a ticket, handler failures. */
import t from 'tap';
import { createAuthenticator } from '../src/front/auth.js';
import { createMetrics } from '../src/observe/metrics.js';
import { createServiceServer } from '../src/front/service-server.js';
import { createTicketStore } from '../src/front/tickets.js';
import { sendJson } from '../src/front/http-api.js';
import { httpsRequest, logSink, testTls } from './helpers/index.js';

t.test('methods, origins, credentials, tickets and failures', async (t) => {
  const tls = await testTls();
  const auth = await createAuthenticator({ demo: true });
  t.teardown(() => auth.close());
  const tickets = createTicketStore();
  const logs = logSink();
  const server = createServiceServer({
    service: 'test',
    limits: {
      host: '127.0.0.1',
      port: 0,
      maxPayloadBytes: 1024,
      pingIntervalMs: 25000,
      allowedOrigins: ['https://app.example.com'],
      maxConnections: 10,
      maxConnectionsPerUser: 10,
      handshakeTimeoutMs: 10000,
      requestTimeoutMs: 20000,
      metricsAuth: false,
    },
    tls: { cert: tls.cert, key: tls.key, ca: tls.ca },
    auth,
    log: logs.log,
    metrics: createMetrics('test', { defaultMetrics: false }),
    isReady: () => true,
    tickets,
    openapi: '{"openapi":"3.1.0"}',
    api: [
      {
        path: '/v1/who',
        methods: ['GET'],
        tickets: true,
        handle: (_req, res, ctx) => sendJson(res, 200, { user: ctx.principal.name, q: ctx.url.search }, ctx.cors),
      },
      {
        path: '/v1/boom',
        methods: ['GET'],
        handle: () => {
          throw new Error('boom');
        },
      },
    ],
    routes: [],
  });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const url = (path: string) => `https://localhost:${port}${path}`;
  const as = { ca: tls.ca, user: 'hello', password: 'test' };

  t.match(await httpsRequest(url('/v1/who?x=1'), as), { status: 200, body: '{"user":"hello","q":"?x=1"}' });
  const put = await httpsRequest(url('/v1/who'), { ...as, method: 'PUT' });
  t.match(put, { status: 405, headers: { allow: 'GET' } });
  t.match(JSON.parse(put.body), { error: { code: 'METHOD_NOT_ALLOWED' } });
  const nobody = await httpsRequest(url('/v1/who'), { ca: tls.ca });
  t.match(nobody, { status: 401, headers: { 'www-authenticate': 'Basic realm="wsq"' } });
  t.match(JSON.parse(nobody.body), { error: { code: 'UNAUTHORIZED' } });
  const evil = await httpsRequest(url('/v1/who'), { ...as, headers: { origin: 'https://evil.example' } });
  t.match({ s: evil.status, e: JSON.parse(evil.body) }, { s: 403, e: { error: { code: 'FORBIDDEN_ORIGIN' } } });
  const good = await httpsRequest(url('/v1/who'), { ...as, headers: { origin: 'https://app.example.com' } });
  t.match(good, { status: 200, headers: { 'access-control-allow-origin': 'https://app.example.com' } });

  const { ticket } = tickets.issue({ name: 'hello', publish: [], subscribe: ['>'] });
  const byTicket = await httpsRequest(url(`/v1/who?ticket=${ticket}&y=2`), { ca: tls.ca });
  t.match(byTicket, { status: 200, body: '{"user":"hello","q":"?y=2"}' }, 'the handler never sees the ticket');
  t.equal((await httpsRequest(url(`/v1/who?ticket=${ticket}`), { ca: tls.ca })).status, 401, 'single-use');
  const { ticket: other } = tickets.issue({ name: 'hello', publish: [], subscribe: [] });
  t.equal((await httpsRequest(url(`/v1/boom?ticket=${other}`), { ca: tls.ca })).status, 401, 'not on this route');

  const boom = await httpsRequest(url('/v1/boom'), as);
  t.match({ s: boom.status, e: JSON.parse(boom.body) }, { s: 500, e: { error: { code: 'INTERNAL' } } });
  t.ok(
    logs.lines().some((l) => l.msg === 'API request failed'),
    'logged',
  );

  t.match(await httpsRequest(url('/v1/openapi.json'), { ca: tls.ca }), { status: 200, body: '{"openapi":"3.1.0"}' });
  t.match(await httpsRequest(url('/v1/openapi.json'), { ca: tls.ca, method: 'POST' }), {
    status: 405,
    headers: { allow: 'GET, HEAD' },
  });
});
