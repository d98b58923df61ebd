/**
 * `since` resumes: every retained match with seq > since, then live, with no gap and no
 * duplicate. Through the stub msgqueue for the real link, and through a FakeQueue where a
 * test must hold a replay open while live messages arrive.
 */
import t from 'tap';
import { ProtocolError } from '@wsq/core';
import { type Teardown, startStubQueue } from '@wsq/core/testing';
import { FakeQueue, changed, connect, metricValue, startSubscriber, subscribe, type TestClient } from './helpers.js';

/** Reads `n` frames and returns them parsed. */
async function frames(c: TestClient, n: number): Promise<Record<string, unknown>[]> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await c.r.json());
  return out;
}

/** Reads msg frames until one with seq `last`; returns their seqs. */
async function seqsUntil(c: TestClient, last: number): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const f = await c.r.json();
    if (f.op !== 'msg') throw new Error(`unexpected frame ${JSON.stringify(f)}`);
    seqs.push(f.seq as number);
    if (f.seq === last) return seqs;
  }
}

async function withFake(t: Teardown, over: Record<string, unknown> = {}) {
  const fake = new FakeQueue();
  const s = await startSubscriber(t, 'wss://localhost:1', over, fake);
  return { fake, s };
}

t.test('stub: since replays the retained history, then live, with no gap and no duplicate', async (t) => {
  const stub = await startStubQueue(t);
  const s = await startSubscriber(t, stub.url);
  await s.waitLink('up');
  const topics = ['news', 'other', 'news', 'news', 'other', 'news'];
  for (const topic of topics) stub.push(topic, JSON.stringify(topic));
  await stub.waitFor(() => stub.cursor('subscriber') === 6);
  const c = await connect(t, s, true);
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'news', since: 1, id: 'r' }));
  // Published while the replay may be running: either way they come once, in order.
  const during = [stub.push('news', '7'), stub.push('other', '8'), stub.push('news', '9')];
  const ack = await c.r.json();
  t.match(ack, { op: 'subscribed', id: 'r', topic: 'news', recovered: true });
  t.ok((ack.seq as number) >= 6, 'seq: where live delivery continues');
  const after = stub.push('news', '10');
  t.same(await seqsUntil(c, after), [3, 4, 6, during[0], during[2], after]);
  t.equal(await metricValue(s.metrics, 'wsq_subscriber_replayed_total'), 3);
});

t.test('stub: recovered is false when retention no longer reaches back', async (t) => {
  const stub = await startStubQueue(t);
  const s = await startSubscriber(t, stub.url);
  await s.waitLink('up');
  for (let i = 1; i <= 5; i++) stub.push('news', String(i));
  await stub.waitFor(() => stub.cursor('subscriber') === 5);
  stub.firstSeq = 4;
  const lost = await connect(t, s, true);
  t.same(await subscribe(lost, 'news', { since: 1 }), { op: 'subscribed', topic: 'news', seq: 5, recovered: false });
  t.same(await seqsUntil(lost, 5), [4, 5]);
  const whole = await connect(t, s, true);
  t.match(await subscribe(whole, 'news', { since: 3 }), { recovered: true });
  t.same(await seqsUntil(whole, 5), [4, 5]);
});

t.test('stub: a long replay pages through replayBatchMessages at a time', async (t) => {
  const stub = await startStubQueue(t);
  const s = await startSubscriber(t, stub.url, { replayBatchMessages: 2 });
  await s.waitLink('up');
  for (let i = 1; i <= 7; i++) stub.push(i % 2 ? 'p.odd' : 'p.even', String(i));
  await stub.waitFor(() => stub.cursor('subscriber') === 7);
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'p.*', { since: 0 }), { op: 'subscribed', seq: 7, recovered: true });
  t.same(await seqsUntil(c, 7), [1, 2, 3, 4, 5, 6, 7]);
  const live = stub.push('p.odd', '8');
  t.same(await seqsUntil(c, live), [8]);
});

t.test('live messages arriving during a replay are held, then sent after it', async (t) => {
  const { fake, s } = await withFake(t);
  for (let i = 1; i <= 3; i++) fake.push('a', String(i));
  fake.holdReplays = true;
  const c = await connect(t, s, true);
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 1, id: 'x' }));
  await fake.waitReplays(1);
  t.same(fake.replays[0], { from: 2, to: 3, pattern: 'a', limit: 1000 });
  fake.push('a', '4');
  fake.push('b', 'nobody');
  fake.push('a', '6');
  fake.answer(fake.pending.shift()!);
  t.same(await c.r.json(), { op: 'subscribed', id: 'x', topic: 'a', seq: 3, recovered: true });
  t.same(await seqsUntil(c, 6), [2, 3, 4, 6]);
  fake.push('a', '7');
  t.same(await seqsUntil(c, 7), [7]);
  t.same(fake.acks.slice(-1), [7], 'every batch is acknowledged once handed over');
});

t.test('a resume skips what an overlapping subscription of the connection already delivered', async (t) => {
  const { fake, s } = await withFake(t);
  fake.push('a.x', '1');
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a.>'), { op: 'subscribed', seq: 1 });
  fake.push('a.y', '2');
  t.same(await seqsUntil(c, 2), [2]);
  t.match(await subscribe(c, 'a.*', { since: 0 }), { op: 'subscribed', topic: 'a.*', seq: 2 });
  t.same(await seqsUntil(c, 1), [1], 'seq 1 predates a.>; seq 2 came through it already');
  fake.push('a.z', '3');
  t.same(await seqsUntil(c, 3), [3]);
  t.equal(c.r.pending, 0);
});

t.test('a subscription made before the first live message covers from that message on', async (t) => {
  const { fake, s } = await withFake(t);
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a.>'), { op: 'subscribed', seq: 0 });
  fake.push('a.x', '1');
  t.same(await seqsUntil(c, 1), [1]);
  t.match(await subscribe(c, 'a.*', { since: 0 }), { op: 'subscribed', seq: 1, recovered: true });
  fake.push('a.y', '2');
  t.same(await seqsUntil(c, 2), [2], 'seq 1 is not replayed: a.> delivered it');
});

t.test('resuming an existing subscription fills only the gap before it', async (t) => {
  const { fake, s } = await withFake(t);
  fake.push('a', '1');
  fake.push('a', '2');
  const c = await connect(t, s, true);
  await subscribe(c, 'a');
  fake.push('a', '3');
  t.same(await seqsUntil(c, 3), [3]);
  t.match(await subscribe(c, 'a', { since: 0, id: 'fill' }), { op: 'subscribed', id: 'fill', seq: 3, recovered: true });
  t.same(await seqsUntil(c, 2), [1, 2]);
  fake.push('a', '4');
  t.same(await seqsUntil(c, 4), [4]);
  t.equal(s.sub.stats().subscriptions, 1);
});

t.test('a subscriber still catching up does not deliver twice what a resume replayed', async (t) => {
  const { fake, s } = await withFake(t);
  // The queue holds 1..3 but the subscriber's cursor has not delivered them yet.
  const backlog = [fake.append('a', '1'), fake.append('a', '2'), fake.append('a', '3')];
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a', { since: 0 }), { seq: 3, recovered: true });
  t.same(await seqsUntil(c, 3), [1, 2, 3]);
  fake.deliver(backlog);
  fake.push('a', '4');
  t.same(await seqsUntil(c, 4), [4]);
});

t.test('a client ahead of the subscriber is not sent what it already has', async (t) => {
  const { fake, s } = await withFake(t);
  fake.push('a', '1');
  const ahead = [fake.append('a', '2'), fake.append('a', '3')];
  const c = await connect(t, s, true);
  t.same(await subscribe(c, 'a', { since: 2 }), { op: 'subscribed', topic: 'a', seq: 1, recovered: true });
  t.equal(fake.replays.length, 0, 'nothing to replay');
  fake.deliver(ahead);
  t.same(await seqsUntil(c, 3), [3]);
});

t.test('unsub during a replay: the rest of it is not sent; held messages of other subscriptions are', async (t) => {
  const { fake, s } = await withFake(t);
  fake.push('a', '1');
  const c = await connect(t, s, true);
  await subscribe(c, 'b');
  fake.holdReplays = true;
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  await fake.waitReplays(1);
  fake.push('a', '2');
  const b = fake.push('b', '3');
  c.ws.send(JSON.stringify({ op: 'unsub', topic: 'a', id: 'u' }));
  t.same(await c.r.json(), { op: 'unsubscribed', id: 'u', topic: 'a' });
  fake.answer(fake.pending.shift()!);
  t.same(await seqsUntil(c, b.seq), [b.seq]);
  t.same(s.sub.stats(), { connections: 1, subscriptions: 1, topics: 1 });
});

t.test('past maxReplayBufferMessages held, the connection is closed with 1013', async (t) => {
  const { fake, s } = await withFake(t, { maxReplayBufferMessages: 2 });
  fake.push('a', '1');
  fake.holdReplays = true;
  const c = await connect(t, s, true);
  const healthy = await connect(t, s, true);
  await subscribe(healthy, 'a');
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  await fake.waitReplays(1);
  for (let i = 0; i < 3; i++) fake.push('a', String(i));
  t.equal((await c.r.waitClose()).code, 1013);
  t.same(await seqsUntil(healthy, 4), [2, 3, 4], 'the others are not affected');
  t.equal(await metricValue(s.metrics, 'wsq_closes_total', { reason: 'replay_buffer' }), 1);
  t.equal(await metricValue(s.metrics, 'wsq_dropped_messages_total', { reason: 'replay_buffer' }), 3);
  t.match(s.logs.text(), /"reason":"replay_buffer"/);
  await changed(s.sub, () => s.sub.stats().connections === 1);
  fake.answer(fake.pending.shift()!);
});

t.test('a replay the queue cannot answer: an error frame first, a 1013 close midway', async (t) => {
  const { fake, s } = await withFake(t, { replayBatchMessages: 1 });
  fake.push('a', '1');
  fake.push('a', '2');
  fake.holdReplays = true;
  const c = await connect(t, s, true);
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0, id: 'e' }));
  await fake.waitReplays(1);
  fake.pending.shift()!.reject(new ProtocolError('UNAVAILABLE', 'link down'));
  t.match(await c.r.json(), { op: 'error', id: 'e', code: 'UNAVAILABLE' });
  t.equal(s.sub.stats().subscriptions, 0, 'the subscription was not kept');
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  await fake.waitReplays(2);
  fake.answer(fake.pending.shift()!);
  t.match(await c.r.json(), { op: 'subscribed', recovered: true });
  t.same(await seqsUntil(c, 1), [1]);
  await fake.waitReplays(3);
  fake.pending.shift()!.reject(new ProtocolError('UNAVAILABLE', 'link down'));
  t.equal((await c.r.waitClose()).code, 1013, 'the client resumes with since');
  t.equal(await metricValue(s.metrics, 'wsq_closes_total', { reason: 'replay_failed' }), 1);
});

t.test('a resume before the link was ever up answers UNAVAILABLE', async (t) => {
  const { fake, s } = await withFake(t);
  fake.state = 'connecting';
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a', { since: 0, id: 'z' }), { op: 'error', id: 'z', code: 'UNAVAILABLE' });
  t.equal(s.sub.stats().subscriptions, 0);
});

t.test('replays in flight are bounded by maxConcurrentReplays', async (t) => {
  const { fake, s } = await withFake(t, { maxConcurrentReplays: 1 });
  fake.push('a', '1');
  fake.holdReplays = true;
  const one = await connect(t, s, true);
  const two = await connect(t, s, true);
  one.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  await fake.waitReplays(1);
  two.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  // Frames of one connection are handled in order: once this answers, the resume was taken.
  t.match(await subscribe(two, 'marker'), { op: 'subscribed', topic: 'marker' });
  t.equal(fake.replays.length, 1, 'the second replay waits its turn');
  fake.answer(fake.pending.shift()!);
  await fake.waitReplays(2);
  fake.answer(fake.pending.shift()!);
  t.same(
    (await frames(one, 2)).map((f) => f.op),
    ['subscribed', 'msg'],
  );
  t.same(
    (await frames(two, 2)).map((f) => f.op),
    ['subscribed', 'msg'],
  );
});
