/** The publisher as a server: health, readiness following the msgqueue link, auth, shutdown. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { generateCerts, linkQueueHome, hashPassword, readUsersFile, writeUsersFile } from '@wsq/core';
import { connectWs, httpsRequest, keyCount, logSink, startStubQueue, testTls, upgradeStatus } from '@wsq/core/testing';
import { publisherConfig } from '../src/options.js';
import { createPublisher } from '../src/service.js';
import { startPublisher, usersFile } from './helpers.js';

t.test('starts on port 0; /healthz always, /readyz only while linked to the msgqueue', async (t) => {
  const stub = await startStubQueue(t);
  const p = await startPublisher(t, stub.url);
  t.equal((await httpsRequest(`${p.base}/healthz`, { ca: p.ca })).status, 200);
  await p.waitState('up');
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 200);

  await stub.stop();
  await p.waitState('down');
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 503);
  t.equal((await httpsRequest(`${p.base}/healthz`, { ca: p.ca })).status, 200, 'still serving');

  await stub.restart();
  await p.waitState('up');
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 200);
});

t.test('log lines about the msgqueue link carry one link key, pushmsg', async (t) => {
  const stub = await startStubQueue(t);
  const p = await startPublisher(t, stub.url);
  await p.waitState('up');
  stub.failAppends = 'FORBIDDEN'; // the producer logs the refused batch
  const { ws, r } = await p.client(t);
  ws.send('{"op":"pub","topic":"news","data":"x","id":"m1"}');
  t.match(await r.json(), { op: 'error', id: 'm1', code: 'FORBIDDEN' });
  await stub.stop();
  await p.waitState('down');

  const linkLines = p.logs
    .text()
    .split('\n')
    .filter((l) => l.includes('"link":'));
  const messages = linkLines.map((l) => String((JSON.parse(l) as { msg: unknown }).msg));
  for (const msg of ['msgqueue link up', 'msgqueue refused an append batch', 'msgqueue link down']) {
    t.ok(messages.includes(msg), `"${msg}" is among the link lines`);
  }
  for (const line of linkLines) {
    t.equal(keyCount(line, 'link'), 1, line);
    t.equal((JSON.parse(line) as { link: unknown }).link, 'pushmsg');
  }
});

t.test('metrics list the publisher series', async (t) => {
  const stub = await startStubQueue(t);
  const p = await startPublisher(t, stub.url);
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
  const stub = await startStubQueue(t);
  const p = await startPublisher(t, stub.url);
  const wrong = await upgradeStatus(p.wsUrl, { ca: p.ca, user: 'hello', password: 'nope' });
  t.equal(wrong.status, 401);
  t.equal(wrong.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await upgradeStatus(p.wsUrl, { ca: p.ca })).status, 401);
  t.equal((await upgradeStatus(p.wsUrl, { ca: p.ca, user: 'hello', password: 'test' })).status, 101);
});

t.test('who may log in is said at start: the demo user loudly, nobody (no --users) as a warning', async (t) => {
  const stub = await startStubQueue(t);
  const warned = (p: { logs: { lines(): Record<string, unknown>[] } }, re: RegExp) =>
    p.logs.lines().filter((l) => l.level === 'warn' && re.test(String(l.msg))).length;
  const demo = await startPublisher(t, stub.url);
  t.equal(warned(demo, /DEMO MODE/), 1);
  t.equal(warned(demo, /no --users/), 0);
  const nobody = await startPublisher(t, stub.url, { demo: false, queueUser: 'hello', queuePassword: 'test' });
  t.equal(warned(nobody, /no --users/), 1, 'no --users and no --demo: warned');
  t.equal((await upgradeStatus(nobody.wsUrl, { ca: nobody.ca, user: 'hello', password: 'test' })).status, 401);
});

t.test('a dial to a bad address fails', async (t) => {
  const stub = await startStubQueue(t);
  const p = await startPublisher(t, stub.url);
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
  const stub = await startStubQueue(t);
  const p = await startPublisher(t, stub.url);
  t.equal((await httpsRequest(`${p.base}/publish`, { ca: p.ca, user: 'hello', password: 'test' })).status, 400);
  t.equal((await httpsRequest(`${p.base}/publish`, { ca: p.ca })).status, 401);
});

t.test('the link verifies the msgqueue certificate: a publisher trusting another CA never becomes ready', async (t) => {
  const stub = await startStubQueue(t);
  const dir = mkdtempSync(join(tmpdir(), 'wsq-other-ca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const otherCa = join(dir, 'ca.crt');
  writeFileSync(otherCa, (await generateCerts(1)).caCert);
  const p = await startPublisher(t, stub.url, { ca: otherCa });
  await p.waitStateCount('down', 2); // failed, retried, failed again
  t.notOk(p.states.some((s) => s.state === 'up'));
  t.equal(stub.accepted, 0, 'no WebSocket reached the queue');
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 503);
});

t.test('wrong msgqueue credentials keep the publisher unready', async (t) => {
  const stub = await startStubQueue(t);
  const p = await startPublisher(t, stub.url, { queueUser: 'hello', queuePassword: 'wrong' });
  await p.waitStateCount('down', 1);
  t.match(p.states.find((s) => s.state === 'down')?.detail, /401/);
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 503);
});

t.test('close() lets in-flight appends settle, then closes clients with 1001', async (t) => {
  const stub = await startStubQueue(t, { holdAppends: true });
  const p = await startPublisher(t, stub.url, { drainTimeoutMs: 10_000 });
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  ws.send('{"op":"pub","topic":"news","data":1,"id":"a"}');
  await stub.waitFor(() => stub.appends === 1);
  t.equal(p.pub.inflight, 1);
  const closing = p.pub.close();
  t.equal((await httpsRequest(`${p.base}/readyz`, { ca: p.ca })).status, 503, 'not ready once closing');
  ws.send('{"op":"pub","topic":"news","data":2,"id":"b"}');
  t.match(await r.json(), { op: 'error', id: 'b', code: 'UNAVAILABLE' }, 'no new messages while closing');
  stub.release();
  t.same(await r.json(), { op: 'ack', id: 'a', seq: 1 }, 'the held message is acked before the close');
  t.equal((await r.waitClose()).code, 1001);
  await closing;
  t.equal(p.pub.linkState, 'closed');
  t.equal(stub.log.length, 1);
});

t.test('close() gives up on a queue that never answers after drainTimeoutMs', async (t) => {
  const stub = await startStubQueue(t, { holdAppends: true });
  const p = await startPublisher(t, stub.url, { drainTimeoutMs: 50 });
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  ws.send('{"op":"pub","topic":"news","data":1,"id":"a"}');
  await stub.waitFor(() => stub.appends === 1);
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
  const stub = await startStubQueue(t);
  const dir = mkdtempSync(join(tmpdir(), 'wsq-other-ca-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const p = await startPublisher(t, stub.url, { insecure: true, ca: join(dir, 'missing.crt') });
  await p.waitState('up');
  t.ok(p.logs.lines().some((l) => l.level === 'warn' && /insecure/i.test(String(l.msg))));
});

t.test('reload() picks up new users', async (t) => {
  const stub = await startStubQueue(t);
  const users = await usersFile(t, { alice: { password: 'pw-a', publish: ['>'] } });
  const p = await startPublisher(t, stub.url, { users });
  const dave = { ca: p.ca, user: 'dave', password: 'pw-d' };
  t.equal((await upgradeStatus(p.wsUrl, dave)).status, 401);
  const file = readUsersFile(users);
  file.users.dave = { password: await hashPassword('pw-d'), publish: ['>'], subscribe: [] };
  writeUsersFile(users, file);
  p.pub.reload();
  t.equal((await upgradeStatus(p.wsUrl, dave)).status, 101);
});
