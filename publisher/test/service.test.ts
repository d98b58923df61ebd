/** The publisher as a server: health, readiness following the queue, auth, the link's options, shutdown. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generateCerts, linkQueueHome, hashPassword, readUsersFile, writeUsersFile } from '@wsq/core';
import {
  connectWs,
  httpsRequest,
  logSink,
  createMemoryQueue,
  startLegacyMsgqueue,
  testTls,
  upgradeStatus,
} from '@wsq/core/testing';
import { publisherConfig } from '../src/options.js';
import { createPublisher } from '../src/service.js';
import { startPublisher, usersFile } from './helpers.js';

t.test('starts on port 0; /healthz always, /readyz only while linked to the msgqueue', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  t.equal((await httpsRequest(`${p.base}/healthz`, { ca: p.ca })).status, 200);
  await p.waitState('up');
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 200);

  queue.down();
  await p.waitState('down');
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 503);
  t.equal((await httpsRequest(`${p.base}/healthz`, { ca: p.ca })).status, 200, 'still serving');

  queue.up();
  await p.waitState('up');
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 200);
});

t.test('metrics list the publisher series', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  const body = (await httpsRequest(`${p.base}/metrics`, { ca: p.ca })).body;
  for (const name of [
    'wsq_publisher_received_total',
    'wsq_publisher_published_total',
    'wsq_publisher_outbox_messages',
    'wsq_publish_ack_seconds',
  ]) {
    t.match(body, name);
  }
});

t.test('wrong or missing credentials get 401 before any WebSocket exists', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  const wrong = await upgradeStatus(p.wsUrl, { ca: p.ca, user: 'hello', password: 'nope' });
  t.equal(wrong.status, 401);
  t.equal(wrong.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await upgradeStatus(p.wsUrl, { ca: p.ca })).status, 401);
  t.equal((await upgradeStatus(p.wsUrl, { ca: p.ca, user: 'hello', password: 'test' })).status, 101);
});

t.test('who may log in is said at start: the demo user loudly, nobody (no --users) as a warning', async (t) => {
  const queue = createMemoryQueue();
  const warned = (p: { logs: { lines(): Record<string, unknown>[] } }, re: RegExp) =>
    p.logs.lines().filter((l) => l.level === 'warn' && re.test(String(l.msg))).length;
  const demo = await startPublisher(t, queue);
  t.equal(warned(demo, /DEMO MODE/), 1);
  t.equal(warned(demo, /no --users/), 0);
  const nobody = await startPublisher(t, queue, { demo: false, queueUser: 'hello', queuePassword: 'test' });
  t.equal(warned(nobody, /no --users/), 1, 'no --users and no --demo: warned');
  t.equal((await upgradeStatus(nobody.wsUrl, { ca: nobody.ca, user: 'hello', password: 'test' })).status, 401);
});

t.test('a dial to a bad address fails', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  const creds = { ca: p.ca, user: 'hello', password: 'test' };
  t.equal((await upgradeStatus(p.wsUrl.replace('/publish', '/nope'), creds)).status, 404);
  // A port nobody listens on: take a free one and give it back.
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as { port: number }).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  await t.rejects(connectWs(`wss://localhost:${port}/publish`, creds), { code: 'ECONNREFUSED' });
});

t.test('a plain GET /publish with valid credentials is 400', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  t.equal((await httpsRequest(`${p.base}/publish`, { ca: p.ca, user: 'hello', password: 'test' })).status, 400);
  t.equal((await httpsRequest(`${p.base}/publish`, { ca: p.ca })).status, 401);
});

// The link's options, against what a ws-go msgqueue is (TLS, Basic Auth, the legacy link).
t.test('the link verifies the msgqueue certificate: a publisher trusting another CA never becomes ready', async (t) => {
  const goQueue = await startLegacyMsgqueue(t);
  const dir = mkdtempSync(join(tmpdir(), 'wsq-other-ca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const otherCa = join(dir, 'ca.crt');
  writeFileSync(otherCa, (await generateCerts(1)).caCert);
  const p = await startPublisher(t, goQueue.url, { ca: otherCa });
  await p.waitStateCount('down', 2); // failed, retried, failed again
  t.notOk(p.states.some((s) => s.state === 'up'));
  t.equal(goQueue.accepted, 0, 'no WebSocket reached the queue');
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 503);
});

t.test('wrong msgqueue credentials keep the publisher unready', async (t) => {
  const goQueue = await startLegacyMsgqueue(t);
  const p = await startPublisher(t, goQueue.url, { queueUser: 'hello', queuePassword: 'wrong' });
  await p.waitStateCount('down', 1);
  t.match(p.states.find((s) => s.state === 'down')?.detail, /401/);
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 503);
});

t.test('close() lets in-flight appends settle, then closes clients with 1001', async (t) => {
  const queue = createMemoryQueue({ holdAppends: true });
  const p = await startPublisher(t, queue, { drainTimeoutMs: 10_000 });
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  ws.send('{"op":"pub","topic":"news","data":1,"id":"a"}');
  await queue.waitFor(() => queue.appends === 1);
  t.equal(p.pub.inflight, 1);
  const closing = p.pub.close();
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 503, 'not ready once closing');
  ws.send('{"op":"pub","topic":"news","data":2,"id":"b"}');
  t.match(await r.json(), { op: 'error', id: 'b', code: 'UNAVAILABLE' }, 'no new messages while closing');
  queue.release();
  t.same(await r.json(), { op: 'ack', id: 'a', seq: 1 }, 'the held message is acked before the close');
  t.equal((await r.waitClose()).code, 1001);
  await closing;
  t.equal(p.pub.linkState, 'closed');
  t.equal(queue.log.length, 1);
});

t.test('close() gives up on a queue that never answers after drainTimeoutMs', async (t) => {
  const queue = createMemoryQueue({ holdAppends: true });
  const p = await startPublisher(t, queue, { drainTimeoutMs: 50 });
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  ws.send('{"op":"pub","topic":"news","data":1,"id":"a"}');
  await queue.waitFor(() => queue.appends === 1);
  await p.pub.close();
  const frames: string[] = [];
  while (r.pending > 0) frames.push(await r.next());
  t.notOk(
    frames.some((f) => f.includes('"ack"')),
    'never acked',
  );
  t.equal((await r.waitClose()).code, 1001);
});

t.test('close() before listen() and twice is harmless', async (t) => {
  const tls = await testTls();
  const config = publisherConfig({ port: 0, cert: tls.certPath, key: tls.keyPath, ca: tls.caPath });
  const log = logSink().log;
  const pub = await createPublisher(config, { log, queue: linkQueueHome(config, log) });
  t.equal(pub.linkState, 'closed');
  await pub.close();
  await pub.close();
  await t.rejects(pub.listen());
});

t.test('a missing certificate is a ConfigError naming cert', async (t) => {
  const config = publisherConfig({ cert: '/nonexistent/server.crt' });
  const log = logSink().log;
  await t.rejects(createPublisher(config, { log, queue: linkQueueHome(config, log) }), {
    code: 'BAD_CONFIG',
    field: 'cert',
  });
});

t.test('--insecure links without verifying and says so loudly', async (t) => {
  const goQueue = await startLegacyMsgqueue(t);
  const dir = mkdtempSync(join(tmpdir(), 'wsq-other-ca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const p = await startPublisher(t, goQueue.url, { insecure: true, ca: join(dir, 'missing.crt') });
  await p.waitState('up');
  t.ok(p.logs.lines().some((l) => l.level === 'warn' && /insecure/i.test(String(l.msg))));
});

t.test('reload() picks up new users', async (t) => {
  const queue = createMemoryQueue();
  const users = await usersFile(t, { alice: { password: 'pw-a', publish: ['>'] } });
  const p = await startPublisher(t, queue, { users });
  const dave = { ca: p.ca, user: 'dave', password: 'pw-d' };
  t.equal((await upgradeStatus(p.wsUrl, dave)).status, 401);
  const file = readUsersFile(users);
  file.users.dave = { password: await hashPassword('pw-d'), publish: ['>'], subscribe: [] };
  writeUsersFile(users, file);
  p.pub.reload();
  t.equal((await upgradeStatus(p.wsUrl, dave)).status, 101);
});

t.test('--queue-linger-ms reaches the queue producer the publisher opens', async (t) => {
  const queue = createMemoryQueue();
  const lingers: (number | undefined)[] = [];
  const producer = queue.producer.bind(queue);
  queue.producer = (hooks) => {
    lingers.push(hooks.lingerMs);
    return producer(hooks);
  };
  await startPublisher(t, queue, { queueLingerMs: 7 });
  t.same(lingers, [7]);
  t.equal(publisherConfig({ demo: true }).queueLingerMs, 0, 'no linger by default');
});
