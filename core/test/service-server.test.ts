import t from 'tap';
import { WebSocket } from 'ws';
import { createAuthenticator } from '../src/front/auth.js';
import { createMetrics } from '../src/observe/metrics.js';
import { createServiceServer, type ServerLimits } from '../src/front/service-server.js';
import { V1_PROTOCOL } from '../src/protocol/v1.js';
import {
  type Teardown,
  connectWs,
  FrameReader,
  httpsRequest,
  logSink,
  rawTlsExchange,
  testTls,
  upgradeStatus,
} from './helpers/index.js';

const limits: ServerLimits = {
  host: '127.0.0.1',
  port: 0,
  maxPayloadBytes: 1024,
  pingIntervalMs: 25000,
  allowedOrigins: ['https://app.example.com', 'https://*.good.example'],
  maxConnections: 100,
  maxConnectionsPerUser: 3,
  handshakeTimeoutMs: 10000,
  metricsAuth: false,
};

async function start(t: Teardown, over: Partial<ServerLimits> = {}, ready = () => true) {
  const tls = await testTls();
  const auth = await createAuthenticator({ demo: true });
  t.teardown(() => auth.close());
  const { log } = logSink();
  const server = createServiceServer({
    service: 'test',
    limits: { ...limits, ...over },
    tls: { cert: tls.cert, key: tls.key, ca: tls.ca },
    auth,
    log,
    metrics: createMetrics('test', { defaultMetrics: false }),
    isReady: ready,
    routes: [
      {
        path: '/echo',
        protocols: [V1_PROTOCOL],
        legacy: true,
        onConnection(ws, ctx) {
          ws.on('message', (d) => ws.send(`${ctx.principal.name}|${ctx.protocol}|${String(d)}`));
        },
      },
    ],
  });
  const addr = await server.listen();
  t.teardown(() => server.close());
  return {
    server,
    port: addr.port,
    base: `https://localhost:${addr.port}`,
    wsBase: `wss://localhost:${addr.port}`,
    ca: tls.ca,
  };
}

t.test('healthz, readyz and metrics answer plain HTTPS', async (t) => {
  let ready = false;
  const { base, ca } = await start(t, {}, () => ready);
  t.equal((await httpsRequest(`${base}/healthz`, { ca })).status, 200);
  t.equal((await httpsRequest(`${base}/readyz`, { ca })).status, 503);
  ready = true;
  t.equal((await httpsRequest(`${base}/readyz`, { ca })).status, 200);
  const m = await httpsRequest(`${base}/metrics`, { ca });
  t.equal(m.status, 200);
  t.match(m.body, /wsq_connections_open/);
  t.equal((await httpsRequest(`${base}/nope`, { ca })).status, 404);
});

t.test('HEAD is answered wherever GET is, without a body; other methods get 405', async (t) => {
  let ready = false;
  const { base, ca } = await start(t, {}, () => ready);
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const get = await httpsRequest(`${base}${path}`, { ca });
    const head = await httpsRequest(`${base}${path}`, { ca, method: 'HEAD' });
    t.equal(head.status, get.status, `HEAD ${path}: same status`);
    t.equal(head.headers['content-type'], get.headers['content-type'], `HEAD ${path}: same type`);
    t.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)), `HEAD ${path}: GET's length`);
    t.equal(head.body, '', `HEAD ${path}: no body`);
  }
  t.equal((await httpsRequest(`${base}/readyz`, { ca, method: 'HEAD' })).status, 503);
  ready = true;
  t.equal((await httpsRequest(`${base}/readyz`, { ca, method: 'HEAD' })).status, 200);
  for (const [method, path] of [
    ['POST', '/healthz'],
    ['PUT', '/readyz'],
    ['DELETE', '/metrics'],
    ['OPTIONS', '/healthz'],
  ]) {
    const res = await httpsRequest(`${base}${path}`, { ca, method });
    t.equal(res.status, 405, `${method} ${path}`);
    t.equal(res.headers.allow, 'GET, HEAD', `${method} ${path}: Allow`);
  }
});

t.test('HEAD /metrics needs credentials when GET does', async (t) => {
  const { base, ca } = await start(t, { metricsAuth: true });
  const anon = await httpsRequest(`${base}/metrics`, { ca, method: 'HEAD' });
  t.equal(anon.status, 401);
  t.equal(anon.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await httpsRequest(`${base}/metrics`, { ca, method: 'HEAD', user: 'hello', password: 'test' })).status, 200);
});

t.test('an upgrade request to /healthz, /readyz or /metrics gets the plain answer', async (t) => {
  let ready = false;
  const { wsBase, ca, port } = await start(t, {}, () => ready);
  t.equal((await upgradeStatus(`${wsBase}/healthz`, { ca })).status, 200);
  t.equal((await upgradeStatus(`${wsBase}/readyz`, { ca })).status, 503);
  ready = true;
  t.equal((await upgradeStatus(`${wsBase}/readyz`, { ca })).status, 200);
  t.equal((await upgradeStatus(`${wsBase}/metrics`, { ca })).status, 200);
  t.equal((await upgradeStatus(`${wsBase}/nope`, { ca })).status, 404, 'an unknown path is still 404');

  const upgrade = 'Host: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
  const get = await rawTlsExchange(port, ca, `GET /healthz HTTP/1.1\r\n${upgrade}`);
  t.match(get, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(get, /\r\nContent-Length: 3\r\n/);
  t.match(get, /\r\n\r\nok\n$/, 'the body, then the socket is closed');
  const head = await rawTlsExchange(port, ca, `HEAD /readyz HTTP/1.1\r\n${upgrade}`);
  t.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(head, /\r\nContent-Length: 6\r\n/);
  t.match(head, /\r\n\r\n$/, 'no body for HEAD');
  const post = await rawTlsExchange(port, ca, `POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n${upgrade}`);
  t.match(post, /^HTTP\/1\.1 405 /);
  t.match(post, /\r\nAllow: GET, HEAD\r\n/);
});

t.test('an upgrade request to /metrics needs credentials when a plain one does', async (t) => {
  const { wsBase, ca } = await start(t, { metricsAuth: true });
  const anon = await upgradeStatus(`${wsBase}/metrics`, { ca });
  t.equal(anon.status, 401);
  t.equal(anon.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await upgradeStatus(`${wsBase}/metrics`, { ca, user: 'hello', password: 'test' })).status, 200);
});

t.test('a plain request to a WebSocket path: 401 without credentials, 400 with them', async (t) => {
  const { base, ca } = await start(t);
  const anon = await httpsRequest(`${base}/echo`, { ca });
  t.equal(anon.status, 401);
  t.equal(anon.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await httpsRequest(`${base}/echo`, { ca, user: 'hello', password: 'test' })).status, 400);
});

t.test('upgrade is authenticated before a WebSocket exists', async (t) => {
  const { wsBase, ca } = await start(t);
  const none = await upgradeStatus(`${wsBase}/echo`, { ca });
  t.equal(none.status, 401);
  t.equal(none.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await upgradeStatus(`${wsBase}/echo`, { ca, user: 'hello', password: 'nope' })).status, 401);
  t.equal((await upgradeStatus(`${wsBase}/echo`, { ca, user: 'nobody', password: 'test' })).status, 401);
  t.equal((await upgradeStatus(`${wsBase}/other`, { ca, user: 'hello', password: 'test' })).status, 404);
  t.equal(
    (await upgradeStatus(`${wsBase}/echo`, { ca, user: 'hello', password: 'test', protocol: 'mqtt' })).status,
    400,
  );
});

t.test('legacy and v1 clients are told apart by subprotocol', async (t) => {
  const { wsBase, ca } = await start(t);
  const legacy = await connectWs(`${wsBase}/echo`, { ca, user: 'hello', password: 'test' });
  t.teardown(() => legacy.close());
  const r1 = new FrameReader(legacy);
  legacy.send('x');
  t.equal(await r1.next(), 'hello||x');
  const v1 = await connectWs(`${wsBase}/echo`, { ca, user: 'hello', password: 'test', protocol: V1_PROTOCOL });
  t.teardown(() => v1.close());
  const r2 = new FrameReader(v1);
  v1.send('y');
  t.equal(await r2.next(), `hello|${V1_PROTOCOL}|y`);
});

t.test('origins are checked; requests without Origin pass', async (t) => {
  const { wsBase, ca } = await start(t);
  const creds = { ca, user: 'hello', password: 'test' };
  t.equal(
    (await upgradeStatus(`${wsBase}/echo`, { ...creds, headers: { origin: 'https://evil.example.com' } })).status,
    403,
  );
  t.equal(
    (await upgradeStatus(`${wsBase}/echo`, { ...creds, headers: { origin: 'https://app.example.com' } })).status,
    101,
  );
  t.equal(
    (await upgradeStatus(`${wsBase}/echo`, { ...creds, headers: { origin: 'https://x.good.example' } })).status,
    101,
  );
  t.equal(
    (await upgradeStatus(`${wsBase}/echo`, { ...creds, headers: { origin: 'https://app.example.com:443' } })).status,
    101,
    'the default port is the same origin',
  );
  t.equal((await upgradeStatus(`${wsBase}/echo`, creds)).status, 101);
});

t.test('a configured origin with its default port matches what browsers send', async (t) => {
  const { wsBase, ca } = await start(t, { allowedOrigins: ['https://app.example.com:443'] });
  const creds = { ca, user: 'hello', password: 'test' };
  t.equal(
    (await upgradeStatus(`${wsBase}/echo`, { ...creds, headers: { origin: 'https://app.example.com' } })).status,
    101,
  );
});

t.test('per-user connection limit answers 503 before the upgrade', async (t) => {
  const { wsBase, ca } = await start(t, { maxConnectionsPerUser: 1 });
  const a = await connectWs(`${wsBase}/echo`, { ca, user: 'hello', password: 'test' });
  t.teardown(() => a.close());
  t.equal((await upgradeStatus(`${wsBase}/echo`, { ca, user: 'hello', password: 'test' })).status, 503);
});

t.test('a frame over maxPayloadBytes closes with 1009', async (t) => {
  const { wsBase, ca } = await start(t);
  const ws = await connectWs(`${wsBase}/echo`, { ca, user: 'hello', password: 'test' });
  const r = new FrameReader(ws);
  ws.send('x'.repeat(2000));
  t.equal((await r.waitClose()).code, 1009);
});

t.test('close() ends every socket with 1001 and turns readyz to 503 first', async (t) => {
  const { server, wsBase, ca } = await start(t);
  const ws = await connectWs(`${wsBase}/echo`, { ca, user: 'hello', password: 'test' });
  const r = new FrameReader(ws);
  const closing = server.close();
  t.equal(server.accepting, false);
  t.equal((await r.waitClose()).code, 1001);
  await closing;
  t.equal(ws.readyState, WebSocket.CLOSED);
});

t.test('a host that does not resolve or is not local rejects listen() with a ConfigError for host', async (t) => {
  for (const host of ['999.1.1.1', 'no-such-host.invalid', '192.0.2.1']) {
    await t.rejects(start(t, { host }), { name: 'ConfigError', code: 'BAD_CONFIG', field: 'host' }, host);
  }
  const { wsBase } = await start(t);
  const port = Number(new URL(wsBase).port);
  const taken = start(t, { port });
  await t.rejects(taken, { code: 'EADDRINUSE' }, 'a port in use is not a configuration error');
  await taken.catch((err: unknown) => t.notOk(err instanceof Error && err.name === 'ConfigError'));
});
