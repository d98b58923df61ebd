/**
 * The subscriber alone, on an in-memory queue (and once linked to a ws-go msgqueue): the ws-go test table
 * (start, auth, roundtrips, wildcards) plus the wsq.v1 answers and limits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hashPassword, writeUsersFile } from '@wsq/core';
import {
  type Teardown,
  connectWs,
  httpsRequest,
  createMemoryQueue,
  startLegacyMsgqueue,
  upgradeStatus,
} from '@wsq/core/testing';
import { allGone, changed, connect, metricValue, startSubscriber, subscribe } from './helpers.js';

async function linked(t: Teardown, over: Record<string, unknown> = {}) {
  const queue = createMemoryQueue();
  const s = await startSubscriber(t, queue, over);
  await s.waitLink('up');
  return { queue, s };
}

t.test('server starts: /healthz 200, /readyz follows the msgqueue link', async (t) => {
  const queue = createMemoryQueue();
  const s = await startSubscriber(t, queue);
  t.equal((await httpsRequest(`${s.base}/healthz`, { ca: s.ca })).status, 200);
  await s.waitLink('up');
  t.equal((await httpsRequest(`${s.base}/readyz`, { ca: s.ca })).status, 200);
  queue.down();
  await s.waitLink('down');
  t.equal((await httpsRequest(`${s.base}/readyz`, { ca: s.ca })).status, 503);
  t.equal((await httpsRequest(`${s.base}/healthz`, { ca: s.ca })).status, 200, 'still serving while the queue is down');
  queue.up();
  await s.waitLink('up');
  t.equal((await httpsRequest(`${s.base}/readyz`, { ca: s.ca })).status, 200);
  const m = await httpsRequest(`${s.base}/metrics`, { ca: s.ca });
  t.match(m.body, /wsq_subscriber_queue_link_up\{[^}]*\} 1/);
});

t.test('wrong credentials: 401 before any WebSocket exists', async (t) => {
  const { s } = await linked(t);
  const wrong = await upgradeStatus(s.wsUrl, { ca: s.ca, user: 'hello', password: 'nope' });
  t.equal(wrong.status, 401);
  t.equal(wrong.headers['www-authenticate'], 'Basic realm="wsq"');
  t.equal((await upgradeStatus(s.wsUrl, { ca: s.ca })).status, 401);
});

t.test('a dial to a bad address fails', async (t) => {
  const { s } = await linked(t);
  t.equal(
    (await upgradeStatus(s.wsUrl.replace('/subscribe', '/nope'), { ca: s.ca, user: 'hello', password: 'test' })).status,
    404,
  );
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as { port: number }).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  await t.rejects(connectWs(`wss://localhost:${port}/subscribe`, { ca: s.ca, user: 'hello', password: 'test' }), {
    code: 'ECONNREFUSED',
  });
});

t.test('a plain GET /subscribe: 400 with valid credentials, 401 without', async (t) => {
  const { s } = await linked(t);
  t.equal((await httpsRequest(`${s.base}/subscribe`, { ca: s.ca, user: 'hello', password: 'test' })).status, 400);
  t.equal((await httpsRequest(`${s.base}/subscribe`, { ca: s.ca })).status, 401);
});

t.test('roundtrip: a legacy client gets exactly the ws-go frame', async (t) => {
  const { queue, s } = await linked(t);
  const c = await connect(t, s, false);
  c.ws.send(JSON.stringify({ Topic: 'news', Content: 'sub' }));
  // Legacy subscriptions are not answered; the index shows when it is in place.
  await changed(s.sub, () => s.sub.stats().subscriptions === 1);
  const seq = queue.push('news', '"hello"');
  t.equal(await c.r.next(), '{"Topic":"news","Content":"hello"}');
  await queue.waitFor(() => queue.cursor('subscriber') === seq);
  t.pass('the delivered batch was acknowledged to the queue');
  t.equal(await metricValue(s.metrics, 'wsq_subscriber_delivered_total', { protocol: 'legacy' }), 1);
});

t.test('roundtrip: a v1 client gets subscribed, then msg with topic, seq, data and ts', async (t) => {
  const { queue, s } = await linked(t);
  queue.push('other', '1');
  await queue.waitFor(() => queue.cursor('subscriber') === 1);
  const c = await connect(t, s, true);
  const ack = await subscribe(c, 'news.*', { id: 'r1' });
  t.same(ack, { op: 'subscribed', id: 'r1', topic: 'news.*', seq: 1 });
  const before = Date.now();
  const seq = queue.push('news.eu', '{"a":[1,2]}');
  const msg = await c.r.json();
  t.match(msg, { op: 'msg', topic: 'news.eu', seq, data: { a: [1, 2] } });
  t.ok((msg.ts as number) >= before - 1000 && (msg.ts as number) <= Date.now(), 'ts is the publish time');
  t.equal(await metricValue(s.metrics, 'wsq_subscriber_last_seq'), seq);
});

t.test('wildcards: * matches one token, > one or more', async (t) => {
  const { queue, s } = await linked(t);
  const star = await connect(t, s, true);
  const rest = await connect(t, s, true);
  t.match(await subscribe(star, 'a.*'), { op: 'subscribed' });
  t.match(await subscribe(rest, 'a.>'), { op: 'subscribed' });
  for (const topic of ['a', 'a.b', 'a.b.c', 'b.c', 'a.x']) queue.push(topic, JSON.stringify(topic));
  t.same([(await star.r.json()).topic, (await star.r.json()).topic], ['a.b', 'a.x']);
  t.same(
    [(await rest.r.json()).topic, (await rest.r.json()).topic, (await rest.r.json()).topic],
    ['a.b', 'a.b.c', 'a.x'],
  );
  t.equal(star.r.pending + rest.r.pending, 0);
});

t.test('overlapping subscriptions deliver each message once', async (t) => {
  const { queue, s } = await linked(t);
  const c = await connect(t, s, true);
  await subscribe(c, 'a.*');
  await subscribe(c, 'a.>');
  await subscribe(c, 'a.b');
  const first = queue.push('a.b', '1');
  const second = queue.push('a.c', '2');
  t.equal((await c.r.json()).seq, first);
  t.equal((await c.r.json()).seq, second, 'no second copy of a.b');
  t.same(s.sub.stats(), { connections: 1, subscriptions: 3, topics: 3 });
});

t.test('unsub stops delivery; unsub of something not subscribed still answers', async (t) => {
  const { queue, s } = await linked(t);
  const c = await connect(t, s, true);
  await subscribe(c, 'a');
  await subscribe(c, 'b');
  c.ws.send(JSON.stringify({ op: 'unsub', topic: 'a', id: 'u1' }));
  t.same(await c.r.json(), { op: 'unsubscribed', id: 'u1', topic: 'a' });
  c.ws.send(JSON.stringify({ op: 'unsub', topic: 'never' }));
  t.same(await c.r.json(), { op: 'unsubscribed', topic: 'never' });
  queue.push('a', '"gone"');
  const b = queue.push('b', '"kept"');
  t.match(await c.r.json(), { topic: 'b', seq: b }, 'a was not delivered');
  const legacy = await connect(t, s, false);
  legacy.ws.send(JSON.stringify({ Topic: 'a', Content: 'sub' }));
  legacy.ws.send(JSON.stringify({ Topic: 'b', Content: 'sub' }));
  legacy.ws.send(JSON.stringify({ Topic: 'a', Content: 'unsub' }));
  await changed(s.sub, () => s.sub.stats().subscriptions === 2);
  queue.push('a', '"gone"');
  queue.push('b', '"kept"');
  t.equal(await legacy.r.next(), '{"Topic":"b","Content":"kept"}');
});

t.test('interop: v1 data reaches legacy clients as Content, legacy strings reach v1 as strings', async (t) => {
  const { queue, s } = await linked(t);
  const legacy = await connect(t, s, false);
  const v1 = await connect(t, s, true);
  legacy.ws.send(JSON.stringify({ Topic: 'mix', Content: 'sub' }));
  await subscribe(v1, 'mix');
  await changed(s.sub, () => s.sub.stats().subscriptions === 2);
  queue.push('mix', '{"x":1}');
  queue.push('mix', '"plain"');
  t.equal(await legacy.r.next(), '{"Topic":"mix","Content":"{\\"x\\":1}"}');
  t.equal(await legacy.r.next(), '{"Topic":"mix","Content":"plain"}');
  t.same((await v1.r.json()).data, { x: 1 });
  t.equal((await v1.r.json()).data, 'plain');
});

t.test('FORBIDDEN: a user may only subscribe inside its patterns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-sub-users-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const users = join(dir, 'users.json');
  writeUsersFile(users, {
    version: 1,
    users: { carol: { password: await hashPassword('pw'), publish: [], subscribe: ['chat.>'] } },
  });
  const { queue, s } = await linked(t, { users });
  const c = await connect(t, s, true, 'carol', 'pw');
  t.match(await subscribe(c, 'news', { id: 'f1' }), { op: 'error', id: 'f1', code: 'FORBIDDEN' });
  t.match(await subscribe(c, '>', { id: 'f2' }), { op: 'error', id: 'f2', code: 'FORBIDDEN' });
  t.match(await subscribe(c, 'chat.*', { id: 'ok' }), { op: 'subscribed', id: 'ok' });
  const legacy = await connect(t, s, false, 'carol', 'pw');
  legacy.ws.send(JSON.stringify({ Topic: 'news', Content: 'sub' }));
  legacy.ws.send(JSON.stringify({ Topic: 'chat.eu', Content: 'sub' }));
  await changed(s.sub, () => s.sub.stats().subscriptions === 2);
  queue.push('news', '"no"');
  queue.push('chat.eu', '"yes"');
  t.equal(await legacy.r.next(), '{"Topic":"chat.eu","Content":"yes"}');
  t.match((await c.r.json()).data, 'yes');
  t.equal(await metricValue(s.metrics, 'wsq_invalid_frames_total', { code: 'FORBIDDEN' }), 3);
});

t.test('LIMIT_EXCEEDED past maxSubscriptionsPerConnection; the connection stays usable', async (t) => {
  const { queue, s } = await linked(t, { maxSubscriptionsPerConnection: 2 });
  const c = await connect(t, s, true);
  await subscribe(c, 'a');
  await subscribe(c, 'b');
  t.match(await subscribe(c, 'c', { id: 'x' }), { op: 'error', id: 'x', code: 'LIMIT_EXCEEDED' });
  t.match(
    await subscribe(c, 'a', { id: 'again' }),
    { op: 'subscribed', id: 'again' },
    'an existing pattern is not a new subscription',
  );
  c.ws.send(JSON.stringify({ op: 'unsub', topic: 'b' }));
  await c.r.json();
  t.match(await subscribe(c, 'c'), { op: 'subscribed' });
  const seq = queue.push('c', '1');
  t.equal((await c.r.json()).seq, seq);
});

t.test('BAD_TOPIC and BAD_FRAME answer one error frame each; the connection stays open', async (t) => {
  const { queue, s } = await linked(t);
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a..b', { id: 't1' }), { op: 'error', id: 't1', code: 'BAD_TOPIC' });
  t.match(await subscribe(c, 'a.>.b'), { op: 'error', code: 'BAD_TOPIC' });
  c.ws.send('not json');
  t.match(await c.r.json(), { op: 'error', code: 'BAD_FRAME' });
  c.ws.send(JSON.stringify({ op: 'pub', topic: 'a', data: 1, id: 'p1' }));
  t.match(await c.r.json(), { op: 'error', id: 'p1', code: 'BAD_FRAME' });
  c.ws.send(JSON.stringify({ op: 'nope', id: 'n1' }));
  t.match(await c.r.json(), { op: 'error', id: 'n1', code: 'BAD_FRAME' });
  c.ws.send(`{"op":"pub","topic":"a","data":${'['.repeat(20_000)}${']'.repeat(20_000)},"id":"deep"}`);
  t.match(await c.r.json(), { op: 'error', id: 'deep', code: 'BAD_FRAME' }, 'deep data: an answer, not a 1011');
  t.match(await subscribe(c, 'a', { since: -1 }), { op: 'error', code: 'BAD_FRAME' });
  c.ws.send(Buffer.from([1, 2, 3]));
  t.match(await c.r.json(), { op: 'error', code: 'BAD_FRAME' });
  t.match(await subscribe(c, 'a'), { op: 'subscribed' });
  const seq = queue.push('a', 'true');
  t.equal((await c.r.json()).seq, seq);
});

t.test('legacy: invalid frames are ignored, counted and logged, never answered', async (t) => {
  const { queue, s } = await linked(t);
  const c = await connect(t, s, false);
  c.ws.send('not json');
  c.ws.send(JSON.stringify({ Topic: 'news', Content: 'hello' }));
  c.ws.send(JSON.stringify({ Topic: 'bad topic', Content: 'sub' }));
  c.ws.send(Buffer.from([0]));
  c.ws.send(JSON.stringify({ topic: 'news', content: 'sub' }));
  await changed(s.sub, () => s.sub.stats().subscriptions === 1);
  queue.push('news', '"x"');
  t.equal(await c.r.next(), '{"Topic":"news","Content":"x"}', 'the first frame received is the message');
  t.equal(await metricValue(s.metrics, 'wsq_invalid_frames_total', { code: 'BAD_FRAME' }), 3);
  t.equal(await metricValue(s.metrics, 'wsq_invalid_frames_total', { code: 'BAD_TOPIC' }), 1);
  const ignored = () => s.logs.lines().filter((l) => l.msg === 'legacy frame ignored');
  const atInfo = () => ignored().filter((l) => l.level === 'info').length;
  t.same(
    ignored().map((l) => [l.code, l.level]),
    [
      ['BAD_FRAME', 'info'],
      ['BAD_FRAME', 'debug'],
      ['BAD_TOPIC', 'info'],
      ['BAD_FRAME', 'debug'],
    ],
    'the first of each code at info, repeats at debug',
  );
  for (let i = 0; i < 50; i++) c.ws.send('still not json');
  c.ws.send(JSON.stringify({ topic: 'more', content: 'sub' }));
  await changed(s.sub, () => s.sub.stats().subscriptions === 2);
  t.equal(await metricValue(s.metrics, 'wsq_invalid_frames_total', { code: 'BAD_FRAME' }), 53, 'every one counted');
  t.equal(atInfo(), 2, 'repeats are not logged at info');
  const other = await connect(t, s, false);
  other.ws.send('not json either');
  other.ws.send(JSON.stringify({ topic: 'other', content: 'sub' }));
  await changed(s.sub, () => s.sub.stats().subscriptions === 3);
  t.equal(atInfo(), 3, 'once per connection');
});

t.test('a closed socket leaves no trace in the index', async (t) => {
  const { queue, s } = await linked(t);
  const a = await connect(t, s, true);
  const b = await connect(t, s, false);
  await subscribe(a, 'x.*');
  await subscribe(a, 'x.>');
  b.ws.send(JSON.stringify({ Topic: 'x.y', Content: 'sub' }));
  await changed(s.sub, () => s.sub.stats().subscriptions === 3);
  t.same(s.sub.stats(), { connections: 2, subscriptions: 3, topics: 3 });
  a.ws.close();
  b.ws.terminate();
  await allGone(s.sub);
  t.same(s.sub.stats(), { connections: 0, subscriptions: 0, topics: 0 });
  t.equal(await metricValue(s.metrics, 'wsq_subscriptions'), 0);
  t.equal(await metricValue(s.metrics, 'wsq_subscriber_topics'), 0);
  queue.push('x.y', '1');
  await queue.waitFor(() => queue.cursor('subscriber') === 1);
  t.pass('a message nobody wants is still acknowledged');
});

t.test('close() ends every client with 1001 and closes the link', async (t) => {
  const { queue, s } = await linked(t);
  const c = await connect(t, s, true);
  await s.sub.close();
  t.equal((await c.r.waitClose()).code, 1001);
  t.equal(s.sub.queue.state, 'closed');
  await queue.waitFor(() => queue.open === 0);
});

t.test('a ws-go (legacy) msgqueue feeds the subscriber too', async (t) => {
  const goQueue = await startLegacyMsgqueue(t);
  const s = await startSubscriber(t, goQueue.url);
  await s.waitLink('up');
  const c = await connect(t, s, true);
  await subscribe(c, 'news');
  await goQueue.waitFor(() => goQueue.poppers === 1);
  goQueue.push('news', '"from go"');
  t.match(await c.r.json(), { op: 'msg', topic: 'news', seq: 1, data: 'from go' });
});

t.test('the demo user is said loudly in the log', async (t) => {
  const { s } = await linked(t);
  t.match(s.logs.text(), /DEMO MODE/);
});
