import { readFileSync } from 'node:fs';
import t from 'tap';
import { Counter, Gauge, Histogram } from 'prom-client';
import { wsqVersion } from '../src/observe/build-info.js';
import { createAuthenticator } from '../src/front/auth.js';
import {
  AUTH_FAILURE_REASONS,
  CLOSE_REASONS,
  DROP_REASONS,
  closeReasonOfWsError,
  createMetrics,
  LATENCY_BUCKETS,
  type BaseMetrics,
} from '../src/observe/metrics.js';
import { createServiceServer } from '../src/front/service-server.js';
import { FrameReader, connectWs, httpsRequest, logSink, testTls, type Teardown } from './helpers/index.js';

async function value(m: BaseMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value;
}

t.test('a gauge with collect is computed on every scrape', async (t) => {
  const m = createMetrics('test', { defaultMetrics: false });
  let size = 3;
  m.gauge('wsq_test_size', 'size', [], (g) => g.set(size));
  const perKey = new Map([['a', 1]]);
  m.gauge('wsq_test_keyed', 'keyed', ['key'], (g) => {
    g.reset();
    for (const [key, v] of perKey) g.set({ key }, v);
  });
  t.equal(await value(m, 'wsq_test_size'), 3);
  size = 7;
  perKey.delete('a');
  perKey.set('b', 2);
  t.match(await m.registry.metrics(), /wsq_test_size\{wsq_service="test"\} 7/);
  t.equal(await value(m, 'wsq_test_keyed', { key: 'a' }), undefined, 'a key gone since the last scrape is gone');
  t.equal(await value(m, 'wsq_test_keyed', { key: 'b' }), 2);
  const plain = m.gauge('wsq_test_plain', 'plain');
  plain.set(4);
  t.equal(await value(m, 'wsq_test_plain'), 4, 'without collect a gauge keeps what was set');
});

t.test('every known reason is exported at 0 from the start', async (t) => {
  const m = createMetrics('test', { defaultMetrics: false });
  const text = await m.registry.metrics();
  for (const [metric, reasons] of [
    ['wsq_closes_total', CLOSE_REASONS],
    ['wsq_dropped_messages_total', DROP_REASONS],
    ['wsq_auth_failures_total', AUTH_FAILURE_REASONS],
  ] as const) {
    for (const reason of Object.keys(reasons)) {
      t.match(text, `${metric}{reason="${reason}",wsq_service="test"} 0`, `${metric} ${reason}`);
    }
  }
  t.match(text, 'wsq_ready{wsq_service="test"} 0');
});

t.test('default process and Node.js metrics keep their conventional names', async (t) => {
  const text = await createMetrics('test').registry.metrics();
  t.match(text, /^process_cpu_seconds_total\{wsq_service="test"\} /m);
  t.match(text, /^process_cpu_user_seconds_total\{wsq_service="test"\}/m);
  t.match(text, /^# TYPE nodejs_eventloop_lag_seconds gauge/m);
  t.notMatch(text, /^wsq_process_/m);
  t.notMatch(text, /^wsq_nodejs_/m);
});

t.test('wsq_build_info says which wsq and which Node.js run', async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  t.equal(wsqVersion(), version);
  const text = await createMetrics('test', { defaultMetrics: false }).registry.metrics();
  t.match(text, `wsq_build_info{version="${version}",node="${process.version}",wsq_service="test"} 1\n`);
  const pinned = await createMetrics('test', { defaultMetrics: false, version: '9.9.9' }).registry.metrics();
  t.match(pinned, 'wsq_build_info{version="9.9.9",');
});

t.test('no label clashes with the target labels a ServiceMonitor sets', async (t) => {
  const m = createMetrics('test', { defaultMetrics: false });
  m.connectionsOpen.inc({ path: '/x' });
  m.framesInvalid.inc({ path: '/x', code: 'BAD_FRAME' });
  const reserved = ['service', 'endpoint', 'job', 'instance', 'namespace', 'pod', 'container'];
  for (const metric of await m.registry.getMetricsAsJSON()) {
    for (const v of metric.values) {
      const clash = Object.keys(v.labels).filter((l) => reserved.includes(l));
      t.same(clash, [], metric.name);
    }
  }
});

t.test('ws errors map to close reasons', async (t) => {
  const err = (code?: string) => Object.assign(new Error('x'), code === undefined ? {} : { code });
  t.equal(closeReasonOfWsError(err('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')), 'too_large');
  t.equal(closeReasonOfWsError(err('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH')), 'too_large');
  t.equal(closeReasonOfWsError(err('WS_ERR_INVALID_UTF8')), 'invalid_utf8');
  t.equal(closeReasonOfWsError(err('WS_ERR_EXPECTED_MASK')), 'protocol_error');
  t.equal(closeReasonOfWsError(err('ECONNRESET')), undefined, 'a reset peer is not a close by the server');
  t.equal(closeReasonOfWsError(err()), undefined);
});

async function start(t: Teardown, isReady: () => boolean) {
  const tls = await testTls();
  const auth = await createAuthenticator({ demo: true });
  t.teardown(() => auth.close());
  const sink = logSink();
  const metrics = createMetrics('test', { defaultMetrics: false });
  const server = createServiceServer({
    service: 'test',
    limits: {
      host: '127.0.0.1',
      port: 0,
      maxPayloadBytes: 1024,
      pingIntervalMs: 25000,
      allowedOrigins: [],
      maxConnections: 10,
      maxConnectionsPerUser: 10,
      handshakeTimeoutMs: 10000,
      metricsAuth: false,
    },
    tls: { cert: tls.cert, key: tls.key, ca: tls.ca },
    auth,
    log: sink.log,
    metrics,
    isReady,
    routes: [{ path: '/x', protocols: [], legacy: true, onConnection: () => undefined }],
  });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const open = async () => {
    const ws = await connectWs(`wss://localhost:${port}/x`, { ca: tls.ca, user: 'hello', password: 'test' });
    return { ws, reader: new FrameReader(ws) };
  };
  return { metrics, sink, open, base: `https://localhost:${port}`, ca: tls.ca };
}

t.test('frames ws refuses close the socket and are counted by reason', async (t) => {
  const { metrics, sink, open } = await start(t, () => true);

  const big = await open();
  big.ws.send('x'.repeat(2000));
  t.equal((await big.reader.waitClose()).code, 1009);

  const notUtf8 = await open();
  notUtf8.ws.send(Buffer.from([0x68, 0xff, 0xfe]), { binary: false });
  t.equal((await notUtf8.reader.waitClose()).code, 1007);

  const unmasked = await open();
  // A client frame without a mask, written under ws's framing: FIN + text, length 1, "a".
  (unmasked.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.from([0x81, 0x01, 0x61]));
  t.equal((await unmasked.reader.waitClose()).code, 1002);

  t.equal(await value(metrics, 'wsq_closes_total', { reason: 'too_large' }), 1);
  t.equal(await value(metrics, 'wsq_closes_total', { reason: 'invalid_utf8' }), 1);
  t.equal(await value(metrics, 'wsq_closes_total', { reason: 'protocol_error' }), 1);
  const lines = sink.lines().filter((l) => l.msg === 'connection closed: frame refused');
  t.same(lines.map((l) => l.reason).sort(), ['invalid_utf8', 'protocol_error', 'too_large']);
  t.ok(
    lines.every((l) => typeof l.conn === 'string' && l.level === 'info'),
    'logged at info on the connection',
  );
});

t.test('wsq_ready follows isReady at each scrape', async (t) => {
  let ready = false;
  const { base, ca } = await start(t, () => ready);
  const scrapeReady = async () =>
    /^wsq_ready\{wsq_service="test"\} (\d)/m.exec((await httpsRequest(`${base}/metrics`, { ca })).body)?.[1];
  t.equal(await scrapeReady(), '0');
  ready = true;
  t.equal(await scrapeReady(), '1');
});

t.test('tallies: plain-number cells read into counters on every scrape', async (t) => {
  const m = createMetrics('svc', { defaultMetrics: false });
  const sent = m.tally('x_sent_total', 'sent');
  const byProto = m.tallyBy('x_frames_total', 'frames', 'protocol');
  const legacy = byProto('legacy');
  t.equal(byProto('legacy'), legacy, 'one cell per label value');
  sent.n += 3;
  legacy.n++;
  byProto('v1').n += 2;
  let text = await m.registry.metrics();
  t.match(text, /x_sent_total\{wsq_service="svc"\} 3\n/);
  t.match(text, /x_frames_total\{protocol="legacy",wsq_service="svc"\} 1\n/);
  t.match(text, /x_frames_total\{protocol="v1",wsq_service="svc"\} 2\n/);
  sent.n++;
  text = await m.registry.metrics();
  t.match(text, /x_sent_total\{wsq_service="svc"\} 4\n/, 'a later scrape sees the new value, not a sum of scrapes');
});

t.test("counters, gauges and histograms are prom-client's own classes", async (t) => {
  const m = createMetrics('svc', { defaultMetrics: false });
  const h = m.histogram('wsq_test_seconds', 'A test histogram', LATENCY_BUCKETS);
  t.ok(h instanceof Histogram);
  m.tally('x_total', 'x');
  m.tallyBy('y_total', 'y', 'protocol');
  m.gauge('z', 'z', [], (g) => g.set(1));
  for (const metric of m.registry.getMetricsAsArray()) {
    t.ok(
      metric instanceof Counter || metric instanceof Gauge || metric instanceof Histogram,
      `${(metric as { name?: string }).name} is a prom-client metric`,
    );
  }
  for (const v of [0.0001, 0.003, 20]) h.observe(v);
  const text = await m.registry.metrics();
  t.match(text, /wsq_test_seconds_bucket\{le="0\.001",wsq_service="svc"\} 1\n/, 'cumulative buckets');
  t.match(text, /wsq_test_seconds_count\{wsq_service="svc"\} 3\n/);
});

t.test('bytes received and sent are counted at the socket, by path, open and closed', async (t) => {
  const { metrics, open, sink } = await start(t, () => true);
  const bytes = async (name: string) => (await value(metrics, name, { path: '/x' })) ?? 0;
  t.equal(await bytes('wsq_received_bytes_total'), 0, 'nothing before the first connection');
  const a = await open();
  const afterUpgrade = await bytes('wsq_received_bytes_total');
  t.ok(afterUpgrade > 0, 'the upgrade request counts');
  t.ok((await bytes('wsq_sent_bytes_total')) > 0, 'the 101 answer counts');
  const payload = 'p'.repeat(1000); // under the server's 1024-byte limit
  await new Promise<void>((resolve, reject) => a.ws.send(payload, (err) => (err ? reject(err) : resolve())));
  const pong = new Promise((resolve) => a.ws.once('pong', resolve));
  a.ws.ping(); // answered after the server read the frame before it
  await pong;
  const afterSend = await bytes('wsq_received_bytes_total');
  t.ok(afterSend >= afterUpgrade + 1000, 'an open socket is read at scrape time');
  a.ws.close();
  await a.reader.waitClose();
  const b = await open();
  b.ws.close();
  await b.reader.waitClose();
  await sink.until(() => sink.lines().filter((l) => l.msg === 'connection closed').length === 2);
  t.ok((await bytes('wsq_received_bytes_total')) > afterSend, 'closed sockets keep their counts');
});
