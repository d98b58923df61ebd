import t from 'tap';
import { encodeLink, linkQueueHome } from '@wsq/core';
import { logSink, testTls } from '@wsq/core/testing';
import { consumer, linkClient, metricValue, startQueue, USER } from './helpers/queue.js';

const msg = (topic: string, data: string, pid?: string) => (pid === undefined ? { topic, data } : { topic, data, pid });

t.test('full roundtrip: appends get seqs, two named consumers each get every message in order', async (t) => {
  const q = await startQueue(t);
  const early = await consumer(t, q, 'early');
  t.same(early.consuming, { op: 'consuming', name: 'early', next: 1, first: 1, last: 0 });
  const p = await linkClient(t, q, '/pushmsg');
  t.same(await p.append(1, [msg('news.eu', '"a"'), msg('news.us', '{"b":2}')]), [1, 2]);
  t.same(await p.append(2, [msg('news.eu', '3')]), [3]);
  const late = await consumer(t, q, 'late');
  t.same(late.consuming, { op: 'consuming', name: 'late', next: 1, first: 1, last: 3 });
  const expected = [
    { seq: 1, topic: 'news.eu', data: '"a"' },
    { seq: 2, topic: 'news.us', data: '{"b":2}' },
    { seq: 3, topic: 'news.eu', data: '3' },
  ];
  for (const c of [early.c, late.c]) {
    const got = await c.receive(3);
    t.same(
      got.map(({ seq, topic, data }) => ({ seq, topic, data })),
      expected,
    );
    t.ok(
      got.every((m) => typeof m.ts === 'number' && m.ts > 0),
      'ts travels with each message',
    );
  }
  // Live delivery keeps going for both after catch-up.
  t.same(await p.append(3, [msg('news.eu', '4')]), [4]);
  t.equal((await early.c.receive(1))[0].seq, 4);
  t.equal((await late.c.receive(1))[0].seq, 4);
});

t.test('concurrent producers: one seq order, each producer in its send order, no gaps', async (t) => {
  const q = await startQueue(t);
  const producers = await Promise.all([1, 2, 3, 4].map(() => linkClient(t, q, '/pushmsg')));
  const perProducer = 25;
  // Fire every frame without waiting, then collect the answers.
  producers.forEach((p, pi) => {
    for (let i = 0; i < perProducer; i++)
      p.send({ op: 'append', ref: i, msgs: [{ topic: `p${pi}`, data: String(i), ts: 1 }] });
  });
  const seqsBy = await Promise.all(
    producers.map(async (p) => {
      const seqs: number[] = [];
      for (let i = 0; i < perProducer; i++) {
        const a = await p.expect('appended');
        t.equal(a.ref, i, 'answers come back in request order');
        seqs.push(a.seqs[0]);
      }
      return seqs;
    }),
  );
  for (const seqs of seqsBy)
    t.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
      'a producer keeps its order',
    );
  t.same(
    seqsBy.flat().sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  const { c } = await consumer(t, q, 'all');
  const got = await c.receive(100);
  t.same(
    got.map((m) => m.seq),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  for (const m of got) t.equal(seqsBy[Number(m.topic.slice(1))][Number(m.data)], m.seq);
});

t.test('dedupe by pid: retries get the original seq and are not appended again', async (t) => {
  const q = await startQueue(t);
  const p = await linkClient(t, q, '/pushmsg');
  t.same(await p.append(1, [msg('t', '1', 'u\0a'), msg('t', '2')]), [1, 2]);
  t.same(
    await p.append(2, [msg('t', '"1 again"', 'u\0a'), msg('t', '3', 'u\0b'), msg('t', '"3 again"', 'u\0b')]),
    [1, 3, 3],
  );
  // Two frames with the same new pid in flight at once (the first not yet journaled).
  p.send({ op: 'append', ref: 3, msgs: [{ topic: 't', data: '4', ts: Date.now(), pid: 'u\0c' }] });
  p.send({ op: 'append', ref: 4, msgs: [{ topic: 't', data: '"4 again"', ts: Date.now(), pid: 'u\0c' }] });
  const answers = [await p.expect('appended'), await p.expect('appended')].sort((a, b) => a.ref - b.ref);
  t.same(
    answers.map((a) => a.seqs),
    [[4], [4]],
  );
  t.same(await p.append(5, [msg('t', '5')]), [5]);
  const { c } = await consumer(t, q, 'd');
  t.same(
    (await c.receive(5)).map((m) => m.data),
    ['1', '2', '3', '4', '5'],
  );
  t.equal(
    metricValue(await q.metricsText(), 'wsq_queue_deduplicated_total'),
    3,
    'a known id, a repeat in one frame, one in flight',
  );
});

t.test('the window bounds unacknowledged messages; acks free it and move the cursor', async (t) => {
  const q = await startQueue(t, { consumerBatchMessages: 2 });
  const p = await linkClient(t, q, '/pushmsg');
  await p.append(
    1,
    Array.from({ length: 6 }, (_, i) => msg('w', String(i))),
  );
  const { c } = await consumer(t, q, 'slow', 3);
  t.same(
    (await c.receive(3)).map((m) => m.seq),
    [1, 2, 3],
  );
  await p.append(
    2,
    Array.from({ length: 4 }, (_, i) => msg('w', String(6 + i))),
  );
  // A replay answer is the barrier: anything the window let through would have come first.
  c.send({ op: 'replay', ref: 9, from: 1, to: 0, limit: 1 });
  t.equal((await c.next()).op, 'replayed', 'nothing beyond the window while unacknowledged');
  c.send({ op: 'ack', seq: 2 });
  t.same(
    (await c.receive(2)).map((m) => m.seq),
    [4, 5],
  );
  c.send({ op: 'replay', ref: 10, from: 1, to: 0, limit: 1 });
  t.equal((await c.next()).op, 'replayed');
  c.send({ op: 'ack', seq: 5 });
  t.same(
    (await c.receive(3)).map((m) => m.seq),
    [6, 7, 8],
  );
  t.equal(metricValue(await q.metricsText(), 'wsq_queue_consumer_lag_messages', { consumer: 'slow' }), 5);
});

t.test('replay: pattern, limit, more, and the scan limit', async (t) => {
  const q = await startQueue(t, { replayScanLimit: 4 });
  const p = await linkClient(t, q, '/pushmsg');
  const topics = ['a.x', 'b.x', 'a.y', 'a.z', 'b.y', 'b.z', 'b.w', 'a.w'];
  await p.append(
    1,
    topics.map((topic, i) => msg(topic, String(i))),
  );
  const c = await linkClient(t, q, '/popmsg'); // replay needs no consume
  c.send({ op: 'replay', ref: 1, from: 1, to: 8, pattern: 'a.*', limit: 2 });
  const r1 = (await c.expect('replayed')) as {
    ref: number;
    msgs: { seq: number }[];
    first: number;
    more: boolean;
    next?: number;
  };
  t.same(
    { ref: r1.ref, seqs: r1.msgs.map((m) => m.seq), first: r1.first, more: r1.more },
    { ref: 1, seqs: [1, 3], first: 1, more: true },
  );
  // The scan limit (4) stops a sparse range; `next` says where to go on.
  c.send({ op: 'replay', ref: 2, from: 4, to: 8, pattern: 'a.*', limit: 10 });
  const r2 = (await c.expect('replayed')) as typeof r1;
  t.same({ seqs: r2.msgs.map((m) => m.seq), more: r2.more, next: r2.next }, { seqs: [4], more: true, next: 8 });
  c.send({ op: 'replay', ref: 3, from: 8, to: 100, pattern: 'a.*', limit: 10 });
  const r3 = (await c.expect('replayed')) as typeof r1;
  t.same({ seqs: r3.msgs.map((m) => m.seq), more: r3.more }, { seqs: [8], more: false });
  c.send({ op: 'replay', ref: 4, from: 2, to: 3, limit: 10 });
  t.same(
    ((await c.expect('replayed')) as typeof r1).msgs.map((m) => m.seq),
    [2, 3],
    'no pattern: everything in range',
  );
});

t.test('bad frames answer an error frame and the connection stays open', async (t) => {
  const q = await startQueue(t);
  const p = await linkClient(t, q, '/pushmsg');
  p.ws.send('not json');
  t.match(await p.next(), { op: 'error', code: 'BAD_FRAME' });
  p.ws.send(JSON.stringify({ op: 'append', ref: 6, msgs: [{ topic: 'a', data: '1', ts: 1 }] }));
  t.match(await p.next(), { op: 'error', code: 'BAD_FRAME', ref: 6 }, 'append as JSON text: it is a binary frame');
  p.send({ op: 'append', ref: 7, msgs: [{ topic: 'bad topic', data: '1', ts: 1 }] });
  t.match(await p.next(), { op: 'error', code: 'BAD_TOPIC', ref: 7 });
  const whole = encodeLink({ op: 'append', ref: 9, msgs: [{ topic: 'a', data: '1', ts: 1 }] }) as Buffer;
  p.ws.send(whole.subarray(0, whole.length - 1));
  t.match(await p.next(), { op: 'error', code: 'BAD_FRAME', ref: 9 }, 'a truncated binary frame');
  p.ws.send(Buffer.from([7, 1, 2]));
  t.match(await p.next(), { op: 'error', code: 'BAD_FRAME' }, 'an unknown binary frame');
  p.send({ op: 'consume', name: 'x', window: 1 });
  t.match(await p.next(), { op: 'error', code: 'BAD_FRAME' }, 'consume is not served on /pushmsg');
  t.same(await p.append(8, [msg('ok', '1')]), [1], 'still serving');

  const c = await linkClient(t, q, '/popmsg');
  c.send({ op: 'ack', seq: 1 });
  t.match(await c.next(), { op: 'error', code: 'BAD_FRAME' }, 'ack before consume');
  c.send({ op: 'append', ref: 2, msgs: [{ topic: 'a', data: '1', ts: 1 }] });
  t.match(await c.next(), { op: 'error', code: 'BAD_FRAME', ref: 2 });
  c.send({ op: 'consume', name: 'c', window: 10 });
  await c.expect('consuming');
  await c.receive(1);
  c.send({ op: 'ack', seq: 5 });
  t.match(await c.next(), { op: 'error', code: 'BAD_FRAME' }, 'ack beyond what was sent');
  c.send({ op: 'consume', name: 'c2', window: 10 });
  t.match(await c.next(), { op: 'error', code: 'BAD_FRAME' }, 'one consumer per connection');
  t.equal(metricValue(await q.metricsText(), 'wsq_invalid_frames_total', { path: '/pushmsg', code: 'BAD_TOPIC' }), 1);
});

t.test('a second connection with the same name replaces the first at the acknowledged cursor', async (t) => {
  const q = await startQueue(t);
  const p = await linkClient(t, q, '/pushmsg');
  await p.append(1, [msg('r', '1'), msg('r', '2'), msg('r', '3')]);
  const first = await consumer(t, q, 'same');
  await first.c.receive(3);
  first.c.send({ op: 'ack', seq: 1 });
  // The ack is processed before the next frame on the same socket; a replay answer proves it.
  first.c.send({ op: 'replay', ref: 1, from: 1, to: 0, limit: 1 });
  await first.c.expect('replayed');
  const second = await consumer(t, q, 'same');
  t.equal(second.consuming.next, 2);
  const closed = await first.c.reader.waitClose();
  t.same(closed, { code: 1008, reason: 'consumer replaced' });
  t.same(
    (await second.c.receive(2)).map((m) => m.seq),
    [2, 3],
  );
});

t.test('a consumer past maxConsumers is refused with LIMIT_EXCEEDED', async (t) => {
  const q = await startQueue(t, { maxConsumers: 1 });
  const p = await linkClient(t, q, '/pushmsg');
  await p.append(1, [msg('m', '1')]);
  const a = await consumer(t, q, 'one');
  await a.c.receive(1);
  a.c.send({ op: 'ack', seq: 1 });
  a.c.send({ op: 'replay', ref: 1, from: 1, to: 0, limit: 1 });
  await a.c.expect('replayed');
  const b = await linkClient(t, q, '/popmsg');
  b.send({ op: 'consume', name: 'two', window: 1 });
  t.match(await b.next(), { op: 'error', code: 'LIMIT_EXCEEDED' });
});

t.test('a consumer that does not read is paused at maxBufferedBytes and resumes in order', async (t) => {
  const q = await startQueue(t, { maxBufferedBytes: 1024, maxPayloadBytes: 1024 * 1024 });
  const p = await linkClient(t, q, '/pushmsg');
  const { c } = await consumer(t, q, 'paused', 100_000);
  c.ws.pause();
  const data = JSON.stringify('x'.repeat(2000));
  const total = 3000;
  for (let f = 0; f < total / 100; f++)
    await p.append(
      f,
      Array.from({ length: 100 }, () => msg('big', data)),
    );
  c.ws.resume();
  const got = await c.receive(total);
  t.same(
    got.map((m) => m.seq),
    Array.from({ length: total }, (_, i) => i + 1),
  );
});

t.test('an append is refused whole when a payload is not JSON text', async (t) => {
  const q = await startQueue(t);
  const p = await linkClient(t, q, '/pushmsg');
  // Subscribers splice data into client frames as it is: this one would add a field.
  p.send({
    op: 'append',
    ref: 1,
    msgs: [
      { ...msg('a', '"ok"'), ts: 1 },
      { ...msg('a', '"x","Topic":"admin"'), ts: 1 },
    ],
  });
  t.match(await p.next(), { op: 'error', code: 'BAD_FRAME', ref: 1 }, 'not JSON text');
  t.same(await p.append(2, [msg('a', '"fine"')]), [1], 'the connection goes on');
  const { c } = await consumer(t, q, 'only-good');
  t.same(
    (await c.receive(1)).map((m) => m.data),
    ['"fine"'],
    'nothing of the refused frame was journaled',
  );
});

t.test('seek: the first retained seq at or after a time, through the link and the link home', async (t) => {
  const q = await startQueue(t);
  const p = await linkClient(t, q, '/pushmsg');
  const at = [5_000, 6_000, 5_500, 7_000];
  p.send({ op: 'append', ref: 1, msgs: at.map((ts, i) => ({ topic: 'a', data: String(i), ts })) });
  t.same((await p.expect('appended')).seqs, [1, 2, 3, 4]);
  const c = await linkClient(t, q, '/popmsg');
  for (const [ts, seq] of [
    [0, 1],
    [5_001, 2],
    [6_500, 4],
    [7_001, 5],
  ] as const) {
    c.send({ op: 'seek', ref: ts, ts });
    t.same(await c.expect('sought'), { op: 'sought', ref: ts, seq }, `ts ${ts}`);
  }
  const pushed = await linkClient(t, q, '/pushmsg');
  pushed.send({ op: 'seek', ref: 9, ts: 1 });
  t.match(await pushed.expect('error'), { ref: 9, code: 'BAD_FRAME' }, 'seek belongs on /popmsg');

  const tls = await testTls();
  const logs = logSink('subscriber');
  const home = linkQueueHome(
    {
      queue: q.wsBase,
      queueUser: USER.user,
      queuePassword: USER.password,
      ca: tls.caPath,
      insecure: false,
      pingIntervalMs: 25_000,
      reconnectMinMs: 10,
      reconnectMaxMs: 50,
    },
    logs.log,
  );
  let up: () => void = () => {};
  const isUp = new Promise<void>((resolve) => (up = resolve));
  const consumer = home.consumer({ name: 'seeker', window: 10, onState: (s) => s === 'up' && up() });
  t.teardown(() => consumer.close());
  await t.rejects(consumer.seqAtTime(0), { code: 'UNAVAILABLE' }, 'not linked yet');
  consumer.start(() => {});
  await isUp;
  t.equal(await consumer.seqAtTime(6_500), 4);
  t.equal(await consumer.seqAtTime(Date.now()), 5, 'none that late: lastSeq + 1');
  await consumer.close();
  await t.rejects(consumer.seqAtTime(0), { code: 'UNAVAILABLE' }, 'closed');
});
