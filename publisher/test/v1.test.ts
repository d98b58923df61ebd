/** wsq.v1 publishing onto an in-memory queue: acks carry the queue's seq, every refusal is one error frame. */
import t from 'tap';
import { connectWs, createMemoryQueue, upgradeStatus } from '@wsq/core/testing';
import { V1_PROTOCOL } from '@wsq/core';
import { metric, metricValue, startPublisher, usersFile } from './helpers.js';

t.test('pub with an id is acked with the seq the queue journaled it under', async (t) => {
  const queue = createMemoryQueue();
  queue.push('warmup', '0'); // so the seq is not trivially 1
  const p = await startPublisher(t, queue);
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  ws.send(JSON.stringify({ op: 'pub', topic: 'chat.eu', data: { text: 'hi', n: [1, 2] }, id: 'm1' }));
  const ack = await r.json();
  t.same(ack, { op: 'ack', id: 'm1', seq: 2 });
  t.match(queue.log[1], { seq: 2, topic: 'chat.eu', data: '{"text":"hi","n":[1,2]}' });
  t.ok(Math.abs(queue.log[1]!.ts - Date.now()) < 60_000, 'ts is the publish time');
  t.equal(await metricValue(metric(p.metrics, 'wsq_publisher_published_total')), 1);
  t.equal(await metricValue(metric(p.metrics, 'wsq_publisher_received_total'), { protocol: 'v1' }), 1);
  t.equal(await metricValue(metric(p.metrics, 'wsq_publish_ack_seconds')), 1);
});

t.test('pub without an id is appended and not acked', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  ws.send('{"op":"pub","topic":"news","data":"quiet"}');
  ws.send('{"op":"pub","topic":"news","data":"loud","id":"x"}');
  // Appends settle in order, so an ack for the first would arrive before this one.
  t.same(await r.json(), { op: 'ack', id: 'x', seq: 2 });
  t.same(
    queue.log.map((m) => [m.seq, m.data]),
    [
      [1, '"quiet"'],
      [2, '"loud"'],
    ],
  );
});

t.test('re-sending an id is idempotent: the original ack, one message', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  ws.send('{"op":"pub","topic":"news","data":1,"id":"same"}');
  t.same(await r.json(), { op: 'ack', id: 'same', seq: 1 });
  ws.send('{"op":"pub","topic":"news","data":1,"id":"same"}');
  t.same(await r.json(), { op: 'ack', id: 'same', seq: 1 });
  t.equal(queue.log.length, 1);
});

t.test('refused frames get one error frame each and the connection stays open', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  const cases: [string, { code: string; id?: string }][] = [
    ['not json', { code: 'BAD_FRAME' }],
    ['[1,2]', { code: 'BAD_FRAME' }],
    ['{"op":"shout","topic":"news","id":"u"}', { code: 'BAD_FRAME', id: 'u' }],
    ['{"op":"sub","topic":"news","id":"s"}', { code: 'BAD_FRAME', id: 's' }],
    ['{"op":"unsub","topic":"news","id":"s2"}', { code: 'BAD_FRAME', id: 's2' }],
    ['{"op":"pub","topic":"news","id":"nodata"}', { code: 'BAD_FRAME', id: 'nodata' }],
    [`{"op":"pub","topic":"news","data":1,"id":"${'x'.repeat(129)}"}`, { code: 'BAD_FRAME' }],
    ['{"op":"pub","topic":"bad topic","data":1,"id":"t1"}', { code: 'BAD_TOPIC', id: 't1' }],
    ['{"op":"pub","topic":"news.*","data":1,"id":"t2"}', { code: 'BAD_TOPIC', id: 't2' }],
    ['{"op":"pub","topic":"","data":1}', { code: 'BAD_TOPIC' }],
  ];
  for (const [frame, want] of cases) {
    ws.send(frame);
    const got = await r.json();
    t.match(got, { op: 'error', ...want }, frame.slice(0, 40));
    if (want.id === undefined) t.notOk('id' in got, 'no id to echo');
    t.type(got.message, 'string');
  }
  ws.send(Buffer.from('{"op":"pub","topic":"news","data":1}'), { binary: true });
  t.match(await r.json(), { op: 'error', code: 'BAD_FRAME' }, 'binary frame');
  ws.send('{"op":"pub","topic":"news","data":1,"id":"ok"}');
  t.same(await r.json(), { op: 'ack', id: 'ok', seq: 1 }, 'still open and publishing');
  t.equal(queue.log.length, 1);
  t.equal(await metricValue(p.metrics.framesInvalid, { path: '/publish', code: 'BAD_TOPIC' }), 3);
});

t.test("FORBIDDEN outside the user's publish patterns", async (t) => {
  const queue = createMemoryQueue();
  const users = await usersFile(t, { carol: { password: 'pw-c', publish: ['chat.>'] } });
  const p = await startPublisher(t, queue, { users });
  await p.waitState('up');
  const { ws, r } = await p.client(t, { user: 'carol', password: 'pw-c' });
  ws.send('{"op":"pub","topic":"news","data":1,"id":"f"}');
  t.match(await r.json(), { op: 'error', id: 'f', code: 'FORBIDDEN' });
  ws.send('{"op":"pub","topic":"chat","data":1,"id":"f2"}');
  t.match(await r.json(), { op: 'error', id: 'f2', code: 'FORBIDDEN' }, '> needs at least one more token');
  ws.send('{"op":"pub","topic":"chat.eu.fr","data":1,"id":"ok"}');
  t.same(await r.json(), { op: 'ack', id: 'ok', seq: 1 });
  t.same(
    queue.log.map((m) => m.topic),
    ['chat.eu.fr'],
  );
});

t.test('RATE_LIMITED past the burst, per connection', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue, { publishRatePerSec: 1, publishBurst: 2 });
  await p.waitState('up');
  const { ws, r } = await p.client(t);
  queue.holdAppends = true; // so the acks cannot overtake the refusal
  for (const id of ['a', 'b', 'c']) ws.send(`{"op":"pub","topic":"news","data":1,"id":"${id}"}`);
  t.match(await r.json(), { op: 'error', id: 'c', code: 'RATE_LIMITED' });
  queue.release();
  t.same(
    [await r.json(), await r.json()],
    [
      { op: 'ack', id: 'a', seq: 1 },
      { op: 'ack', id: 'b', seq: 2 },
    ],
  );
  const other = await p.client(t);
  other.ws.send('{"op":"pub","topic":"news","data":1,"id":"d"}');
  t.same(await other.r.json(), { op: 'ack', id: 'd', seq: 3 }, 'another connection has its own bucket');
  t.equal(await metricValue(p.metrics.drops, { reason: 'rate_limited' }), 1);
});

t.test(
  'while the queue is down: the outbox holds messages, overflow gets UNAVAILABLE, the rest are acked after restart',
  async (t) => {
    const queue = createMemoryQueue();
    const p = await startPublisher(t, queue, { outboxMessages: 2 });
    await p.waitState('up');
    queue.down();
    await p.waitState('down');
    const { ws, r } = await p.client(t);
    for (const id of ['a', 'b', 'c']) ws.send(`{"op":"pub","topic":"news","data":"${id}","id":"${id}"}`);
    t.match(await r.json(), { op: 'error', id: 'c', code: 'UNAVAILABLE' }, 'the outbox holds 2');
    ws.send('{"op":"sub","topic":"news","id":"barrier"}');
    t.match(
      await r.json(),
      { op: 'error', id: 'barrier', code: 'BAD_FRAME' },
      'the connection stays open, and no ack came first',
    );
    t.equal(await metricValue(metric(p.metrics, 'wsq_publisher_outbox_messages')), 2);
    t.equal(await metricValue(p.metrics.drops, { reason: 'outbox_full' }), 1);

    queue.up();
    t.same(
      [await r.json(), await r.json()],
      [
        { op: 'ack', id: 'a', seq: 1 },
        { op: 'ack', id: 'b', seq: 2 },
      ],
    );
    t.same(
      queue.log.map((m) => m.data),
      ['"a"', '"b"'],
    );
    ws.send('{"op":"pub","topic":"news","data":"c","id":"c"}');
    t.same(await r.json(), { op: 'ack', id: 'c', seq: 3 }, 'room again');
  },
);

t.test('a frame over maxPayloadBytes closes with 1009; invalid UTF-8 with 1007', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue, { maxPayloadBytes: 1024 });
  const big = await p.client(t);
  big.ws.send(`{"op":"pub","topic":"news","data":"${'x'.repeat(2000)}"}`);
  t.equal((await big.r.waitClose()).code, 1009);
  const bad = await p.client(t);
  bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  t.equal((await bad.r.waitClose()).code, 1007);
  t.equal(queue.log.length, 0);
});

t.test('an unknown subprotocol is refused; no subprotocol is legacy', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  t.equal((await upgradeStatus(p.wsUrl, { ca: p.ca, user: 'hello', password: 'test', protocol: 'mqtt' })).status, 400);
  const ws = await connectWs(p.wsUrl, { ca: p.ca, user: 'hello', password: 'test' });
  t.teardown(() => ws.terminate());
  t.equal(ws.protocol, '');
  const v1 = await connectWs(p.wsUrl, { ca: p.ca, user: 'hello', password: 'test', protocol: V1_PROTOCOL });
  t.teardown(() => v1.terminate());
  t.equal(v1.protocol, V1_PROTOCOL);
});
