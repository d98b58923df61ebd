/**
 * The life of durable consumers: expiry after --consumer-ttl-ms, the admin API (list, delete),
 * and the pile-up they fix (names left behind fill --max-consumers and refuse new subscribers).
 */
import { join } from 'node:path';
import t from 'tap';
import { hashPassword, writeUsersFile } from '@wsq/core';
import { httpsRequest } from '@wsq/core/testing';
import { consumer, linkClient, metricValue, startQueue, tempDir, USER, type RunningQueue } from './helpers/queue.js';
import { openCursorStore } from '../src/consumers/cursors.js';
import { ConsumerHub } from '../src/consumers/hub.js';
import { createConsumerLifecycle, sweepIntervalMs } from '../src/consumers/lifecycle.js';
import { logSink } from '@wsq/core/testing';
import { Counter, Registry } from 'prom-client';

const ADMIN = { user: 'boss', password: 'boss-secret' };
const PLAIN = { user: 'plain', password: 'plain-secret' };
const HOUR = 3_600_000;

/** A users file with an admin and a user who is not; the demo user (hello) consumes. */
async function usersFile(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const path = join(await tempDir(t), 'users.json');
  writeUsersFile(path, {
    version: 1,
    users: {
      [ADMIN.user]: { password: await hashPassword(ADMIN.password), publish: [], subscribe: [], admin: true },
      [PLAIN.user]: { password: await hashPassword(PLAIN.password), publish: ['>'], subscribe: ['>'] },
    },
  });
  return path;
}

/** A clock the test moves. */
function clock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

function closedLinks(q: RunningQueue): number {
  return q.logs.lines().filter((l) => l.msg === 'connection closed').length;
}

/** Closes a consumer's connection and waits until the msgqueue saw it go. */
async function leave(q: RunningQueue, c: { ws: { close(): void } }): Promise<void> {
  const before = closedLinks(q);
  c.ws.close();
  await q.logs.until(() => closedLinks(q) > before);
}

async function refused(t: Parameters<typeof tempDir>[0], q: RunningQueue, name: string) {
  const c = await linkClient(t, q, '/popmsg');
  c.send({ op: 'consume', name, window: 10 });
  return c.next();
}

function admin(q: RunningQueue, method: string, path: string, creds: { user?: string; password?: string } = ADMIN) {
  return httpsRequest(`${q.base}${path}`, { ca: q.ca, method, ...creds });
}

t.test('pile-up: consumers past --max-consumers are refused until the old ones expire by TTL', async (t) => {
  const time = clock();
  const ttl = 1000; // swept every 100 ms of real time; the clock is the test's
  const q = await startQueue(t, { maxConsumers: 2, consumerTtlMs: ttl }, undefined, { now: time.now });
  for (const name of ['pod-a', 'pod-b']) {
    const { c } = await consumer(t, q, name);
    await leave(q, c);
  }
  t.match(await refused(t, q, 'pod-c'), { op: 'error', code: 'LIMIT_EXCEEDED' }, 'the third name is refused');

  time.advance(ttl - 1);
  t.same(q.queue.consumers.sweep(), [], 'not yet: unattached for less than the TTL');
  time.advance(1);
  // The service's own timer (a tenth of the TTL, at most a minute) finds them.
  await q.logs.until(() => q.logs.lines().filter((l) => l.msg === 'consumer expired').length === 2);
  const expired = q.logs.lines().filter((l) => l.msg === 'consumer expired');
  t.same(expired.map((l) => l.consumer).sort(), ['pod-a', 'pod-b']);
  t.match(expired[0], { reason: 'expired', ttlMs: ttl, lastSeen: new Date(time.now() - ttl).toISOString() });
  t.equal(metricValue(await q.metricsText(), 'wsq_queue_consumers_deleted_total', { reason: 'expired' }), 2);

  const { consuming } = await consumer(t, q, 'pod-c');
  t.equal(consuming.name, 'pod-c', 'a new subscriber attaches again');
  time.advance(10 * HOUR);
  t.same(q.queue.consumers.sweep(), [], 'an attached consumer never expires');
  t.equal(metricValue(await q.metricsText(), 'wsq_queue_consumers'), 1);
});

t.test('pile-up: an admin deletes a consumer left behind, and a new subscriber attaches', async (t) => {
  const time = clock();
  const q = await startQueue(t, { maxConsumers: 1, users: await usersFile(t) }, undefined, { now: time.now });
  const p = await linkClient(t, q, '/pushmsg');
  await p.append(1, [
    { topic: 't', data: '"1"' },
    { topic: 't', data: '"2"' },
    { topic: 't', data: '"3"' },
  ]);
  const old = await consumer(t, q, 'old');
  await old.c.receive(3);
  old.c.send({ op: 'ack', seq: 1 });
  old.c.send({ op: 'replay', ref: 1, from: 1, to: 0, limit: 1 }); // answered after the ack is applied
  await old.c.expect('replayed');

  let list = await admin(q, 'GET', '/v1/consumers');
  t.equal(list.status, 200);
  t.match(list.headers['content-type'], /^application\/json/);
  t.same(JSON.parse(list.body), {
    consumers: [{ name: 'old', next: 4, lag: 2, attached: true, lastSeen: null }],
  });
  const conflict = await admin(q, 'DELETE', '/v1/consumers/old');
  t.equal(conflict.status, 409);
  t.same(JSON.parse(conflict.body).error.code, 'CONFLICT');

  time.advance(5000);
  await leave(q, old.c);
  t.match(await refused(t, q, 'new'), { op: 'error', code: 'LIMIT_EXCEEDED' });
  list = await admin(q, 'GET', '/v1/consumers');
  t.same(JSON.parse(list.body), {
    consumers: [{ name: 'old', next: 2, lag: 2, attached: false, lastSeen: new Date(time.now()).toISOString() }],
  });

  const deleted = await admin(q, 'DELETE', '/v1/consumers/old');
  t.equal(deleted.status, 204);
  t.equal(deleted.body, '');
  t.match(
    q.logs.lines().find((l) => l.msg === 'consumer deleted'),
    { consumer: 'old', reason: 'admin', user: ADMIN.user },
  );
  const missing = await admin(q, 'DELETE', '/v1/consumers/old');
  t.equal(missing.status, 404);
  t.equal(JSON.parse(missing.body).error.code, 'NOT_FOUND');
  t.equal(metricValue(await q.metricsText(), 'wsq_queue_consumers_deleted_total', { reason: 'admin' }), 1);

  const fresh = await consumer(t, q, 'new');
  t.equal(fresh.consuming.next, 1, 'the new name starts at the oldest message');
  list = await admin(q, 'GET', '/v1/consumers');
  t.same(JSON.parse(list.body).consumers, [{ name: 'new', next: 4, lag: 3, attached: true, lastSeen: null }]);
});

t.test('the admin API needs credentials (401) of an admin (403)', async (t) => {
  const q = await startQueue(t, { users: await usersFile(t) });
  const anonymous = await admin(q, 'GET', '/v1/consumers', {});
  t.equal(anonymous.status, 401);
  t.equal(anonymous.headers['www-authenticate'], 'Basic realm="wsq"');
  t.same(JSON.parse(anonymous.body), { error: { code: 'UNAUTHORIZED', message: 'missing or wrong credentials' } });
  const wrong = await admin(q, 'DELETE', '/v1/consumers/x', { user: ADMIN.user, password: 'nope' });
  t.equal(wrong.status, 401);
  for (const creds of [PLAIN, USER]) {
    const r = await admin(q, 'GET', '/v1/consumers', creds);
    t.equal(r.status, 403, `${creds.user} is no admin`);
    t.equal(JSON.parse(r.body).error.code, 'FORBIDDEN');
    t.equal((await admin(q, 'DELETE', '/v1/consumers/x', creds)).status, 403);
  }
  const ok = await admin(q, 'GET', '/v1/consumers');
  t.equal(ok.status, 200);
  t.same(JSON.parse(ok.body), { consumers: [] });

  const post = await admin(q, 'POST', '/v1/consumers');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET');
  t.equal(JSON.parse(post.body).error.code, 'METHOD_NOT_ALLOWED');
  t.equal((await admin(q, 'GET', '/v1/consumers/x')).headers.allow, 'DELETE');
  t.equal((await admin(q, 'DELETE', '/v1/consumers/')).status, 404, 'no name: no such path');
  t.equal((await admin(q, 'DELETE', '/v1/consumers/%E0%A4%A')).status, 404, 'a malformed escape names nothing');
});

t.test('a consumer name with reserved characters is deleted by its escaped name', async (t) => {
  const q = await startQueue(t, { users: await usersFile(t) });
  const { c } = await consumer(t, q, 'team/a b');
  await leave(q, c);
  t.equal((await admin(q, 'DELETE', `/v1/consumers/${encodeURIComponent('team/a b')}`)).status, 204);
  t.same(JSON.parse((await admin(q, 'GET', '/v1/consumers')).body), { consumers: [] });
});

t.test('unattached-since survives a restart: the TTL counts from the last sighting, not the start', async (t) => {
  const time = clock();
  const dataDir = await tempDir(t);
  const first = await startQueue(t, { consumerTtlMs: HOUR }, dataDir, { now: time.now });
  const { c } = await consumer(t, first, 'gone');
  await leave(first, c);
  await first.queue.close();

  time.advance(HOUR - 10);
  const second = await startQueue(t, { consumerTtlMs: HOUR }, dataDir, { now: time.now });
  t.same(second.queue.consumers.sweep(), [], 'not yet');
  time.advance(10);
  t.same(second.queue.consumers.sweep(), ['gone'], 'the restart did not reset its clock');
  await second.queue.close();
  const third = await startQueue(t, { consumerTtlMs: HOUR }, dataDir, { now: time.now });
  t.same(third.queue.consumers.list(), [], 'the deletion reached the cursor file');
});

t.test('a sweep examines a bounded number of consumers per tick and refreshes attached ones', async (t) => {
  const dir = await tempDir(t);
  let now = 1000;
  const cursors = await openCursorStore(dir, { flushIntervalMs: HOUR, now: () => now });
  t.teardown(() => cursors.close());
  for (const name of ['a', 'b', 'c', 'd', 'e']) cursors.touch(name, 1000);
  const hub = new ConsumerHub((name) => cursors.touch(name, now));
  const session = { name: 'c', next: () => 7, wake: () => undefined, replaced: () => undefined };
  hub.attach(session);
  const registry = new Registry();
  const deleted = new Counter({ name: 'x', help: 'x', labelNames: ['reason'], registers: [registry] });
  const logs = logSink('msgqueue');
  const life = createConsumerLifecycle({
    cursors,
    hub,
    journal: { firstSeq: 1, lastSeq: 0 },
    log: logs.log,
    deleted,
    now: () => now,
    ttlMs: 100,
    batch: 2,
    intervalMs: HOUR,
  });
  now = 1100;
  t.same(life.sweep(), ['a', 'b'], 'two per tick');
  t.same(life.sweep(), ['d'], 'c is attached');
  t.equal(cursors.entry('c')?.lastSeenMs, 1100, 'the sweep refreshed the attached one');
  t.same(life.sweep(), ['e']);
  t.same(
    life.list().map((v) => [v.name, v.next, v.attached]),
    [['c', 7, true]],
  );
  hub.detach(session);
  t.equal(life.remove('c'), 'deleted');
  t.equal(life.remove('c'), 'unknown');
  t.same(life.sweep(), [], 'a new pass over nothing');
  life.start();
  life.start();
  life.stop();
  life.stop();
  t.equal((await registry.getSingleMetric('x')?.get())?.values.length, 2, 'expired and admin counted');
});

t.test('the sweep interval is a tenth of the TTL, between 10 ms and a minute', async (t) => {
  t.equal(sweepIntervalMs(7 * 24 * HOUR), 60_000);
  t.equal(sweepIntervalMs(HOUR), 60_000);
  t.equal(sweepIntervalMs(50_000), 5_000);
  t.equal(sweepIntervalMs(1), 10);
});
