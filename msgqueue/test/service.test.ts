import { once } from 'node:events';
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { connectWs, httpsRequest, upgradeStatus } from '@wsq/core/testing';
import { hashPassword, LINK_PROTOCOL, writeUsersFile } from '@wsq/core';
import { consumer, linkClient, metricValue, startQueue, tempDir, USER, type RunningQueue } from './helpers/queue.js';

t.test('starts on port 0: healthz, readyz and metrics answer', async (t) => {
  const q = await startQueue(t);
  t.equal((await httpsRequest(`${q.base}/healthz`, { ca: q.ca })).status, 200);
  t.equal((await httpsRequest(`${q.base}/readyz`, { ca: q.ca })).status, 200);
  const text = await q.metricsText();
  t.equal(metricValue(text, 'wsq_queue_last_seq'), 0);
  t.equal(metricValue(text, 'wsq_queue_log_messages'), 0);
  t.match(q.logs.text(), /DEMO MODE/, 'demo mode is announced loudly');
});

t.test('an unusable data dir is a config error on dataDir, and the queue does not start', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'file');
  await writeFile(file, 'not a directory');
  for (const dataDir of [file, join(file, 'below')]) {
    await t.rejects(startQueue(t, {}, dataDir), { code: 'BAD_CONFIG', field: 'dataDir' }, dataDir);
  }
  t.equal(await readFile(file, 'utf8'), 'not a directory', 'the file is left alone');
});

t.test('a missing data dir is created with its parents, journal and cursors inside', async (t) => {
  const dataDir = join(await tempDir(t), 'a', 'b');
  await startQueue(t, {}, dataDir);
  t.same((await readdir(dataDir)).sort(), ['cursors', 'journal'], 'no write probe is left behind');
});

t.test('without --users or --demo it warns at start that it refuses everyone', async (t) => {
  const noUsersWarning = (q: { logs: { lines(): Record<string, unknown>[] } }) =>
    q.logs.lines().filter((l) => l.level === 'warn' && /no --users/.test(String(l.msg)));
  const bare = await startQueue(t, { demo: false });
  t.equal(noUsersWarning(bare).length, 1, 'warned once');
  t.equal((await upgradeStatus(`${bare.wsBase}/pushmsg`, { ca: bare.ca, ...USER })).status, 401, 'and refuses');

  const users = join(await tempDir(t), 'users.json');
  writeUsersFile(users, {
    version: 1,
    users: { svc: { password: await hashPassword('pw'), publish: ['>'], subscribe: ['>'] } },
  });
  t.equal(noUsersWarning(await startQueue(t, { demo: false, users })).length, 0, 'not with --users');
  t.equal(noUsersWarning(await startQueue(t)).length, 0, 'not with --demo');
});

t.test('wrong credentials are refused with 401 and a Basic challenge', async (t) => {
  const q = await startQueue(t);
  for (const path of ['/pushmsg', '/popmsg']) {
    const res = await upgradeStatus(`${q.wsBase}${path}`, {
      ca: q.ca,
      user: 'hello',
      password: 'wrong',
      protocol: LINK_PROTOCOL,
    });
    t.equal(res.status, 401, path);
    t.equal(res.headers['www-authenticate'], 'Basic realm="wsq"');
  }
  t.equal((await upgradeStatus(`${q.wsBase}/pushmsg`, { ca: q.ca })).status, 401, 'no credentials (legacy)');
});

t.test('a plain HTTPS GET on a WebSocket path with valid credentials gets 400', async (t) => {
  const q = await startQueue(t);
  t.equal((await httpsRequest(`${q.base}/pushmsg`, { ca: q.ca, ...USER })).status, 400);
  t.equal((await httpsRequest(`${q.base}/popmsg`, { ca: q.ca, ...USER })).status, 400);
});

t.test('a peer offering only a retired link version is refused at the upgrade, not taken for ws-go', async (t) => {
  const q = await startQueue(t);
  for (const protocol of ['wsq.link.v1', 'wsq.link.v2'])
    for (const path of ['/pushmsg', '/popmsg'])
      await t.rejects(
        connectWs(`${q.wsBase}${path}`, { ca: q.ca, ...USER, protocol }),
        /400/,
        `${path}: 400 for ${protocol}`,
      );
  const ws = await connectWs(`${q.wsBase}/pushmsg`, { ca: q.ca, ...USER, protocol: LINK_PROTOCOL });
  t.equal(ws.protocol, 'wsq.link.v3', 'the current version is served');
  ws.terminate();
});

t.test('a dial to an address where nothing listens fails', async (t) => {
  const q = await startQueue(t);
  await q.queue.close();
  await t.rejects(connectWs(`${q.wsBase}/pushmsg`, { ca: q.ca, ...USER, protocol: LINK_PROTOCOL }), {
    code: 'ECONNREFUSED',
  });
});

t.test('close() ends producer and consumer links with 1001', async (t) => {
  const q = await startQueue(t);
  const p = await linkClient(t, q, '/pushmsg');
  const { c } = await consumer(t, q, 'bye');
  await q.queue.close();
  t.equal((await p.reader.waitClose()).code, 1001);
  t.equal((await c.reader.waitClose()).code, 1001);
});

/** A msgqueue that journaled five messages, which consumer `durable` got and acknowledged up to `ackSeq`; stopped. */
async function fiveConsumedAndStopped(t: Test, ackSeq: number): Promise<RunningQueue> {
  const first = await startQueue(t);
  const p = await linkClient(t, first, '/pushmsg');
  await p.append(
    1,
    Array.from({ length: 5 }, (_, i) => ({ topic: 'r', data: String(i + 1) })),
  );
  const a = await consumer(t, first, 'durable');
  t.same(
    (await a.c.receive(5)).map((m) => m.seq),
    [1, 2, 3, 4, 5],
  );
  a.c.send({ op: 'ack', seq: ackSeq });
  a.c.send({ op: 'replay', ref: 1, from: 1, to: 0, limit: 1 }); // answered after the ack is applied
  await a.c.expect('replayed');
  await first.queue.close();
  return first;
}

t.test('acks persist across a restart: resume where acknowledged, nothing skipped or repeated', async (t) => {
  const first = await fiveConsumedAndStopped(t, 3);

  const second = await startQueue(t, {}, first.dataDir);
  const b = await consumer(t, second, 'durable');
  t.same(b.consuming, { op: 'consuming', name: 'durable', next: 4, first: 1, last: 5 });
  const p2 = await linkClient(t, second, '/pushmsg');
  t.same(await p2.append(1, [{ topic: 'r', data: '6' }]), [6], 'seqs continue after the restart');
  t.same(
    (await b.c.receive(3)).map((m) => m.data),
    ['4', '5', '6'],
  );
});

t.test('a journal tail lost after a consumer acknowledged it: new messages never reuse those seqs', async (t) => {
  const first = await fiveConsumedAndStopped(t, 5);
  // What a power cut can leave with --fsync batch: the cursor file synced, the journal's
  // last records not. Cut the last two records off the only segment.
  const dir = join(first.dataDir, 'journal');
  const [segment] = (await readdir(dir)).filter((f) => f.endsWith('.log'));
  const path = join(dir, segment!);
  const size = (await stat(path)).size;
  await truncate(path, (size * 3) / 5);

  const second = await startQueue(t, {}, first.dataDir);
  const b = await consumer(t, second, 'durable');
  t.match(b.consuming, { op: 'consuming', name: 'durable', next: 6, last: 5 });
  const p2 = await linkClient(t, second, '/pushmsg');
  t.same(await p2.append(1, [{ topic: 'r', data: '"new"' }]), [6], 'the new message gets a seq never handed out');
  t.same(
    (await b.c.receive(1)).map((m) => [m.seq, m.data]),
    [[6, '"new"']],
    'and reaches the consumer',
  );
  const line = second.logs.lines().find((l) => l.msg?.toString().startsWith('journal recovery: seqs handed out'));
  t.match(line, { level: 'error', skippedSeqs: 2, nextSeq: 6 });
});

t.test('dedupe survives a restart', async (t) => {
  const first = await startQueue(t);
  const p = await linkClient(t, first, '/pushmsg');
  t.same(
    await p.append(1, [
      { topic: 'd', data: '1', pid: 'hello\0x1' },
      { topic: 'd', data: '2' },
    ]),
    [1, 2],
  );
  await first.queue.close();
  const second = await startQueue(t, {}, first.dataDir);
  const p2 = await linkClient(t, second, '/pushmsg');
  t.same(
    await p2.append(1, [
      { topic: 'd', data: '"1 retried"', pid: 'hello\0x1' },
      { topic: 'd', data: '3' },
    ]),
    [1, 3],
  );
});

t.test('generated pids sent as counters are journaled spelled out, and dedupe across a restart', async (t) => {
  const producer = 'Zk3q0-Ab_9xY';
  const counted = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, k) => ({ topic: 'g', data: String(from + k), counter: from + k }));
  const first = await startQueue(t);
  const p = await linkClient(t, first, '/pushmsg');
  t.same(await p.append(1, counted(0, 4), producer), [1, 2, 3, 4]);
  const c = await consumer(t, first, 'g');
  t.same(
    (await c.c.receive(4)).map((m) => m.data),
    ['0', '1', '2', '3'],
  );
  await first.queue.close();
  const second = await startQueue(t, {}, first.dataDir);
  const p2 = await linkClient(t, second, '/pushmsg');
  t.same(await p2.append(1, counted(2, 6), producer), [3, 4, 5, 6], 'the re-sent counters get their seqs back');
  t.same(
    await p2.append(2, [{ topic: 'g', data: '"spelled"', pid: `wsq:${producer}:5` }]),
    [6],
    'the spelled-out pid is the same message',
  );
});

t.test('metrics count appends, the log size and consumer lag', async (t) => {
  const q = await startQueue(t);
  const emptyBytes = metricValue(await q.metricsText(), 'wsq_queue_log_bytes');
  t.equal(emptyBytes, 0, 'an empty journal');
  const p = await linkClient(t, q, '/pushmsg');
  await p.append(1, [
    { topic: 'm', data: '1' },
    { topic: 'm', data: '2' },
    { topic: 'm', data: '3' },
  ]);
  const logBytes = metricValue(await q.metricsText(), 'wsq_queue_log_bytes') ?? 0;
  t.ok(logBytes > 3 * 'm1'.length, `the journal bytes grow with appends (${logBytes})`);
  const segments = await readdir(join(q.dataDir, 'journal'));
  const onDisk = (await Promise.all(segments.map((f) => stat(join(q.dataDir, 'journal', f))))).reduce(
    (sum, st) => sum + st.size,
    0,
  );
  t.ok(logBytes <= onDisk, `no more than the files hold (${onDisk})`);
  const { c } = await consumer(t, q, 'lagging');
  await c.receive(3);
  c.send({ op: 'ack', seq: 1 });
  c.send({ op: 'replay', ref: 1, from: 1, to: 0, limit: 1 });
  await c.expect('replayed');
  const text = await q.metricsText();
  t.equal(metricValue(text, 'wsq_queue_appended_total'), 3);
  t.equal(metricValue(text, 'wsq_queue_log_messages'), 3);
  t.equal(metricValue(text, 'wsq_queue_last_seq'), 3);
  t.equal(metricValue(text, 'wsq_queue_consumer_lag_messages', { consumer: 'lagging' }), 2);
  t.equal(metricValue(text, 'wsq_queue_append_duration_seconds_count'), 1);
});

t.test('a users file restricts what a user may push and consume', async (t) => {
  const usersFile = join(await tempDir(t), 'users.json');
  writeUsersFile(usersFile, {
    version: 1,
    users: { narrow: { password: await hashPassword('pw'), publish: ['chat.>'], subscribe: ['chat.>'] } },
  });
  const q = await startQueue(t, { users: usersFile, demo: false });
  const creds = { user: 'narrow', password: 'pw' };
  const p = await linkClient(t, q, '/pushmsg', creds);
  p.send({ op: 'append', ref: 1, msgs: [{ topic: 'admin.x', data: '1', ts: 1 }] });
  t.match(await p.next(), { op: 'error', code: 'FORBIDDEN', ref: 1 });
  t.same(await p.append(2, [{ topic: 'chat.x', data: '1' }]), [1]);
  const c = await linkClient(t, q, '/popmsg', creds);
  c.send({ op: 'consume', name: 'n', window: 1 });
  t.match(await c.next(), { op: 'error', code: 'FORBIDDEN' });
  c.send({ op: 'replay', ref: 2, from: 1, to: 1, pattern: 'chat.*', limit: 1 });
  t.match(await c.next(), { op: 'replayed', ref: 2 });
  const ws = await connectWs(`${q.wsBase}/popmsg`, { ca: q.ca, ...creds });
  const [code] = (await once(ws, 'close')) as [number];
  t.equal(code, 1008, 'a legacy consumer needs subscribe permission on >');
});
