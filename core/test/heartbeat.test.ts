import { once } from 'node:events';
import t from 'tap';
import { WebSocket } from 'ws';
import { createAuthenticator } from '../src/front/auth.js';
import { createMetrics } from '../src/observe/metrics.js';
import { createServiceServer } from '../src/front/service-server.js';
import { logSink, testTls } from './helpers/index.js';

const auth = 'Basic ' + Buffer.from('hello:test').toString('base64');

t.test('a client that misses a pong is terminated; one that answers stays', async (t) => {
  const tls = await testTls();
  const authenticator = await createAuthenticator({ demo: true });
  t.teardown(() => authenticator.close());
  const metrics = createMetrics('test', { defaultMetrics: false });
  const server = createServiceServer({
    service: 'test',
    limits: {
      host: '127.0.0.1',
      port: 0,
      maxPayloadBytes: 1024,
      pingIntervalMs: 250,
      allowedOrigins: [],
      maxConnections: 10,
      maxConnectionsPerUser: 10,
      handshakeTimeoutMs: 10000,
      metricsAuth: false,
    },
    tls: { cert: tls.cert, key: tls.key, ca: tls.ca },
    auth: authenticator,
    log: logSink().log,
    metrics,
    isReady: () => true,
    routes: [
      { path: '/x', protocols: [], legacy: true, onConnection: () => undefined },
      // Paused on purpose, as the publisher does under backpressure: it cannot read pongs.
      { path: '/paused', protocols: [], legacy: true, onConnection: (ws) => ws.pause() },
    ],
  });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const open = (autoPong: boolean, path = '/x') =>
    new WebSocket(`wss://localhost:${port}${path}`, { ca: tls.ca, headers: { authorization: auth }, autoPong });

  const mute = open(false);
  const polite = open(true);
  const paused = open(false, '/paused');
  t.teardown(() => polite.close());
  t.teardown(() => paused.terminate());
  await Promise.all([once(mute, 'open'), once(polite, 'open'), once(paused, 'open')]);
  const [code] = (await once(mute, 'close')) as [number];
  t.equal(code, 1006, 'mute peer cut off without a close frame');
  // The polite peer has answered at least three pings by now and is still connected.
  for (let i = 0; i < 3; i++) await once(polite, 'ping');
  t.equal(polite.readyState, WebSocket.OPEN);
  t.equal(paused.readyState, WebSocket.OPEN, 'a socket the server paused is not taken for dead');
  const text = await metrics.registry.getSingleMetricAsString('wsq_closes_total');
  t.match(text, /reason="ping_timeout"[^\n]* 1/);
});
