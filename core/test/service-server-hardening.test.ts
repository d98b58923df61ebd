/**
 * The service server's defences: browser tickets, slow and half-open handshakes, compression
 * bombs, the bound on password checks, and the connection limit.
 */
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { deflateRawSync } from 'node:zlib';
import t from 'tap';
import { WebSocket } from 'ws';
import { createAuthenticator, type AuthOptions } from '../src/front/auth.js';
import { createMetrics } from '../src/observe/metrics.js';
import { createServiceServer, type ServerLimits } from '../src/front/service-server.js';
import { createTicketStore, type TicketStore } from '../src/front/tickets.js';
import {
  connectWs,
  FrameReader,
  httpsRequest,
  logSink,
  rawTlsExchange,
  testTls,
  type Teardown,
  upgradeStatus,
} from './helpers/index.js';

const limits: ServerLimits = {
  host: '127.0.0.1',
  port: 0,
  maxPayloadBytes: 1024,
  pingIntervalMs: 25000,
  allowedOrigins: ['https://app.example.com'],
  maxConnections: 100,
  maxConnectionsPerUser: 100,
  handshakeTimeoutMs: 10000,
  metricsAuth: false,
};

const CREDS = { user: 'hello', password: 'test' };

interface StartOptions {
  limits?: Partial<ServerLimits>;
  tickets?: TicketStore | null;
  auth?: Partial<AuthOptions>;
}

async function start(t: Teardown, o: StartOptions = {}) {
  const tls = await testTls();
  const auth = await createAuthenticator({ demo: true, ...o.auth });
  t.teardown(() => auth.close());
  const logs = logSink('test', 'debug');
  const metrics = createMetrics('test', { defaultMetrics: false });
  const urls: string[] = [];
  const sockets: WebSocket[] = [];
  const server = createServiceServer({
    service: 'test',
    limits: { ...limits, ...o.limits },
    tls: { cert: tls.cert, key: tls.key, ca: tls.ca },
    auth,
    log: logs.log,
    metrics,
    isReady: () => true,
    ...(o.tickets === null ? {} : { tickets: o.tickets ?? createTicketStore() }),
    routes: [
      {
        path: '/echo',
        protocols: [],
        legacy: true,
        onConnection(ws, ctx) {
          urls.push(ctx.req.url ?? '');
          sockets.push(ws);
          ws.on('message', (d) => ws.send(`${ctx.principal.name}|${String(d).length}`));
        },
      },
    ],
  });
  const addr = await server.listen();
  t.teardown(() => server.close());
  return {
    server,
    logs,
    metrics,
    urls,
    sockets,
    port: addr.port,
    base: `https://localhost:${addr.port}`,
    wsBase: `wss://localhost:${addr.port}`,
    ca: tls.ca,
  };
}

async function metricValue(m: ReturnType<typeof createMetrics>, name: string, reason: string): Promise<number> {
  const found = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return found?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

t.test('POST /v1/tickets: a single-use ticket for an upgrade without Authorization', async (t) => {
  const s = await start(t);
  const res = await httpsRequest(`${s.base}/v1/tickets`, { ca: s.ca, method: 'POST', ...CREDS });
  t.equal(res.status, 200);
  t.equal(res.headers['cache-control'], 'no-store');
  t.match(res.headers['content-type'], /^application\/json/);
  const body = JSON.parse(res.body) as { ticket: string; expiresAt: number };
  t.match(body.ticket, /^[A-Za-z0-9_-]{43}$/);
  t.ok(body.expiresAt > Date.now() + 25_000 && body.expiresAt <= Date.now() + 30_000, 'valid 30 s');

  const ws = await connectWs(`${s.wsBase}/echo?ticket=${body.ticket}&x=1`, { ca: s.ca });
  t.teardown(() => ws.close());
  const r = new FrameReader(ws);
  ws.send('hi');
  t.equal(await r.next(), 'hello|2', 'the ticket carries its principal');
  t.same(s.urls, ['/echo?x=1'], 'the route never sees the ticket');

  const again = await upgradeStatus(`${s.wsBase}/echo?ticket=${body.ticket}`, { ca: s.ca });
  t.equal(again.status, 401, 'single use');
  t.equal(again.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await upgradeStatus(`${s.wsBase}/echo?ticket=forged`, { ca: s.ca })).status, 401);
  t.equal(await metricValue(s.metrics, 'wsq_auth_failures_total', 'bad_ticket'), 2);
  t.notMatch(s.logs.text(), body.ticket, 'the ticket is never logged');
  t.notMatch(s.logs.text(), 'forged');
});

async function issueTicket(s: { base: string; ca: Buffer }): Promise<string> {
  const res = await httpsRequest(`${s.base}/v1/tickets`, { ca: s.ca, method: 'POST', ...CREDS });
  return (JSON.parse(res.body) as { ticket: string }).ticket;
}

t.test('a ticket is not used up by an upgrade refused for another reason', async (t) => {
  const s = await start(t, { limits: { maxConnectionsPerUser: 1 } });
  const ticket = await issueTicket(s);
  const url = `${s.wsBase}/echo?ticket=${ticket}`;
  t.equal((await upgradeStatus(url, { ca: s.ca, protocol: 'mqtt' })).status, 400, 'unknown subprotocol');
  t.equal(
    (await upgradeStatus(url, { ca: s.ca, headers: { origin: 'https://evil.example.com' } })).status,
    403,
    'origin',
  );
  const held = await connectWs(`${s.wsBase}/echo`, { ca: s.ca, ...CREDS });
  t.equal((await upgradeStatus(url, { ca: s.ca })).status, 503, 'per-user limit');
  const serverSide = s.sockets[0]!;
  held.close();
  // Our listener runs after the server's own, which gives the user's connection back.
  await once(serverSide, 'close');
  const malformed = await rawTlsExchange(
    s.port,
    s.ca,
    `GET /echo?ticket=${ticket} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  );
  t.match(malformed, /^HTTP\/1\.1 400 /, 'a handshake without Sec-WebSocket-Key');

  t.equal((await upgradeStatus(url, { ca: s.ca })).status, 101, 'the ticket still works');
  t.equal((await upgradeStatus(url, { ca: s.ca })).status, 401, 'and only once');
});

t.test('concurrent upgrades with one ticket: exactly one gets in', async (t) => {
  const s = await start(t);
  const ticket = await issueTicket(s);
  const statuses = await Promise.all(
    Array.from({ length: 8 }, () => upgradeStatus(`${s.wsBase}/echo?ticket=${ticket}`, { ca: s.ca })),
  );
  t.same(statuses.map((x) => x.status).sort(), [101, 401, 401, 401, 401, 401, 401, 401]);
});

t.test('a ticket used up between its check and the upgrade gets 401', async (t) => {
  // A store whose ticket another upgrade redeems first: peek still sees it, redeem no longer.
  const store = createTicketStore();
  const raced: TicketStore = {
    issue: (p) => store.issue(p),
    peek: (ticket) => store.peek(ticket),
    redeem: (ticket) => (store.redeem(ticket), null),
    get size() {
      return store.size;
    },
  };
  const s = await start(t, { tickets: raced });
  const ticket = await issueTicket(s);
  const res = await upgradeStatus(`${s.wsBase}/echo?ticket=${ticket}`, { ca: s.ca });
  t.equal(res.status, 401);
  t.equal(res.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal(await metricValue(s.metrics, 'wsq_auth_failures_total', 'bad_ticket'), 1);
  t.notMatch(s.logs.text(), ticket, 'the ticket is never logged');
});

t.test('an expired ticket gets 401', async (t) => {
  let now = Date.now();
  const s = await start(t, { tickets: createTicketStore({ ttlMs: 30_000, maxTickets: 10 }, { now: () => now }) });
  const res = await httpsRequest(`${s.base}/v1/tickets`, { ca: s.ca, method: 'POST', ...CREDS });
  const { ticket } = JSON.parse(res.body) as { ticket: string };
  now += 30_001;
  t.equal((await upgradeStatus(`${s.wsBase}/echo?ticket=${ticket}`, { ca: s.ca })).status, 401);
});

t.test('the tickets endpoint: credentials, methods, origins and CORS', async (t) => {
  const s = await start(t);
  const url = `${s.base}/v1/tickets`;
  const anon = await httpsRequest(url, { ca: s.ca, method: 'POST' });
  t.equal(anon.status, 401);
  t.equal(anon.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await httpsRequest(url, { ca: s.ca, method: 'POST', user: 'hello', password: 'x' })).status, 401);
  const get = await httpsRequest(url, { ca: s.ca, ...CREDS });
  t.equal(get.status, 405);
  t.equal(get.headers.allow, 'POST');
  t.equal((await httpsRequest(url, { ca: s.ca, method: 'OPTIONS' })).status, 405, 'OPTIONS without Origin');

  const app = { origin: 'https://app.example.com' };
  const pre = await httpsRequest(url, { ca: s.ca, method: 'OPTIONS', headers: app });
  t.equal(pre.status, 204);
  t.equal(pre.headers['access-control-allow-origin'], app.origin);
  t.equal(pre.headers['access-control-allow-headers'], 'Authorization');
  t.equal(pre.headers['access-control-allow-credentials'], undefined, 'never with cookies');
  const post = await httpsRequest(url, { ca: s.ca, method: 'POST', headers: app, ...CREDS });
  t.equal(post.status, 200);
  t.equal(post.headers['access-control-allow-origin'], app.origin);
  t.equal(post.headers.vary, 'Origin');
  const evil = { origin: 'https://evil.example.com' };
  t.equal((await httpsRequest(url, { ca: s.ca, method: 'POST', headers: evil, ...CREDS })).status, 403);
  t.equal((await httpsRequest(url, { ca: s.ca, method: 'OPTIONS', headers: evil })).status, 403);
});

t.test('an upgrade request to the tickets endpoint gets 400, not 404', async (t) => {
  const s = await start(t);
  t.equal((await upgradeStatus(`${s.wsBase}/v1/tickets`, { ca: s.ca, ...CREDS })).status, 400);
});

t.test('without a ticket store there is no tickets endpoint and a ticket never authenticates', async (t) => {
  const s = await start(t, { tickets: null });
  t.equal((await httpsRequest(`${s.base}/v1/tickets`, { ca: s.ca, method: 'POST', ...CREDS })).status, 404);
  t.equal((await upgradeStatus(`${s.wsBase}/echo?ticket=abc`, { ca: s.ca })).status, 401);
});

/** A TLS socket to the server, connected and reading. */
async function tlsSocket(port: number, ca: Buffer): Promise<TLSSocket> {
  const sock = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca });
  await once(sock, 'secureConnect');
  sock.resume();
  return sock;
}

t.test(
  'a partial upgrade request, a silent TLS socket and a silent TCP socket are closed after handshakeTimeoutMs',
  { timeout: 8000 },
  async (t) => {
    const s = await start(t, { limits: { handshakeTimeoutMs: 300 } });
    const started = Date.now();
    const partial = await tlsSocket(s.port, s.ca);
    t.teardown(() => partial.destroy());
    let answer = '';
    partial.on('data', (d: Buffer) => (answer += d.toString()));
    partial.write('GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
    const silent = await tlsSocket(s.port, s.ca);
    t.teardown(() => silent.destroy());
    const raw = tcpConnect({ port: s.port, host: '127.0.0.1' });
    t.teardown(() => raw.destroy());
    raw.on('error', () => undefined);
    raw.resume();
    await Promise.all([once(partial, 'close'), once(silent, 'close'), once(raw, 'close')]);
    t.ok(Date.now() - started >= 290, 'not before the timeout');
    t.match(answer, /^HTTP\/1\.1 408/, 'the partial request is answered 408');
    // The server still serves everyone else.
    const ws = await connectWs(`${s.wsBase}/echo`, { ca: s.ca, ...CREDS });
    ws.close();
  },
);

t.test('permessage-deflate is off by default', async (t) => {
  const s = await start(t);
  const ws = new WebSocket(`${s.wsBase}/echo`, {
    ca: s.ca,
    headers: { authorization: 'Basic ' + Buffer.from('hello:test').toString('base64') },
    perMessageDeflate: true,
  });
  t.teardown(() => ws.close());
  await once(ws, 'open');
  t.equal(ws.extensions, '');
});

t.test('with permessage-deflate on, a message over the limit once inflated closes with 1009', async (t) => {
  const s = await start(t, { limits: { perMessageDeflate: true } });
  const ws = new WebSocket(`${s.wsBase}/echo`, {
    ca: s.ca,
    headers: { authorization: 'Basic ' + Buffer.from('hello:test').toString('base64') },
    perMessageDeflate: { threshold: 0 },
  });
  await once(ws, 'open');
  t.match(ws.extensions, /permessage-deflate/);
  const r = new FrameReader(ws);
  ws.send('y'.repeat(1000));
  t.equal(await r.next(), 'hello|1000', 'under the limit: accepted');
  const bomb = 'x'.repeat(500_000);
  t.ok(deflateRawSync(bomb).length < 1024, 'the compressed frame itself is under the limit');
  ws.send(bomb);
  t.equal((await r.waitClose()).code, 1009, 'refused once inflated');
});

t.test('a flood of failed logins from one address gets 503 past its share; others still log in', async (t) => {
  const s = await start(t, { auth: { verify: { maxConcurrent: 1, maxPerSource: 2, maxQueued: 8 } } });
  const statuses = await Promise.all([
    ...Array.from({ length: 6 }, (_, i) =>
      upgradeStatus(`${s.wsBase}/echo`, { ca: s.ca, user: 'hello', password: `wrong-${i}` }),
    ),
  ]);
  const codes = statuses.map((x) => x.status).sort();
  t.ok(codes.includes(503), `some were refused as busy: ${codes.join(',')}`);
  t.ok(
    codes.every((c) => c === 401 || c === 503),
    'none got in',
  );
  t.ok((await metricValue(s.metrics, 'wsq_auth_failures_total', 'auth_busy')) >= 1);
  t.equal((await upgradeStatus(`${s.wsBase}/echo`, { ca: s.ca, ...CREDS })).status, 101);
  // Plain requests that need credentials answer 503 too when the gate is full.
  const busy = await Promise.all(
    Array.from({ length: 4 }, (_, i) =>
      httpsRequest(`${s.base}/v1/tickets`, { ca: s.ca, method: 'POST', user: 'hello', password: `w${i}` }),
    ),
  );
  t.ok(busy.some((b) => b.status === 503));
});

t.test('--max-connections answers 503 before the upgrade', async (t) => {
  const s = await start(t, { limits: { maxConnections: 1 } });
  const a = await connectWs(`${s.wsBase}/echo`, { ca: s.ca, ...CREDS });
  t.teardown(() => a.close());
  t.equal((await upgradeStatus(`${s.wsBase}/echo`, { ca: s.ca, ...CREDS })).status, 503);
  t.equal(s.server.server.maxConnections, 2, 'sockets in all: twice the WebSocket limit');
});
