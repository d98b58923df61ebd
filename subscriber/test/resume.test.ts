/**
 * `since` resumes: every retained match with seq > since, then live, with no gap and no
 * duplicate. On an in-memory queue, which can also hold a replay open while live messages
 * arrive, or hold deliveries back as a subscriber still catching up.
 */
import t from 'tap';
import { ProtocolError } from '@wsq/core';
import { type MemoryQueue, type Teardown, createMemoryQueue } from '@wsq/core/testing';
import { changed, connect, metricValue, startSubscriber, subscribe, type TestClient } from './helpers.js';

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

async function withQueue(t: Teardown, over: Record<string, unknown> = {}) {
  const queue = createMemoryQueue();
  const s = await startSubscriber(t, queue, over);
  await s.waitLink('up');
  return { queue, s };
}

/** Resolves once `n` replays were asked for in all. */
function replaysAsked(queue: MemoryQueue, n: number): Promise<void> {
  return queue.waitFor(() => queue.replays.length >= n);
}

t.test('since replays the retained history, then live, with no gap and no duplicate', async (t) => {
  const queue = createMemoryQueue();
  const s = await startSubscriber(t, queue);
  await s.waitLink('up');
  const topics = ['news', 'other', 'news', 'news', 'other', 'news'];
  for (const topic of topics) queue.push(topic, JSON.stringify(topic));
  await queue.waitFor(() => queue.cursor('subscriber') === 6);
  const c = await connect(t, s, true);
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'news', since: 1, id: 'r' }));
  // Published while the replay may be running: either way they come once, in order.
  const during = [queue.push('news', '7'), queue.push('other', '8'), queue.push('news', '9')];
  const ack = await c.r.json();
  t.match(ack, { op: 'subscribed', id: 'r', topic: 'news', recovered: true });
  t.ok((ack.seq as number) >= 6, 'seq: where live delivery continues');
  const after = queue.push('news', '10');
  t.same(await seqsUntil(c, after), [3, 4, 6, during[0], during[2], after]);
  // Replayed: the news messages up to where the replay stopped; the rest came live.
  const replayedUpTo = queue.replays[0]!.to;
  const replayed = queue.log.filter((m) => m.topic === 'news' && m.seq > 1 && m.seq <= replayedUpTo).length;
  t.ok(replayed >= 3, `${replayed} replayed`);
  t.equal(await metricValue(s.metrics, 'wsq_subscriber_replayed_total'), replayed);
});

t.test('recovered is false when retention no longer reaches back', async (t) => {
  const queue = createMemoryQueue();
  const s = await startSubscriber(t, queue);
  await s.waitLink('up');
  for (let i = 1; i <= 5; i++) queue.push('news', String(i));
  await queue.waitFor(() => queue.cursor('subscriber') === 5);
  queue.firstSeq = 4;
  const lost = await connect(t, s, true);
  t.same(await subscribe(lost, 'news', { since: 1 }), { op: 'subscribed', topic: 'news', seq: 5, recovered: false });
  t.same(await seqsUntil(lost, 5), [4, 5]);
  const whole = await connect(t, s, true);
  t.match(await subscribe(whole, 'news', { since: 3 }), { recovered: true });
  t.same(await seqsUntil(whole, 5), [4, 5]);
});

t.test('a long replay pages through replayBatchMessages at a time', async (t) => {
  const queue = createMemoryQueue();
  const s = await startSubscriber(t, queue, { replayBatchMessages: 2 });
  await s.waitLink('up');
  for (let i = 1; i <= 7; i++) queue.push(i % 2 ? 'p.odd' : 'p.even', String(i));
  await queue.waitFor(() => queue.cursor('subscriber') === 7);
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'p.*', { since: 0 }), { op: 'subscribed', seq: 7, recovered: true });
  t.same(await seqsUntil(c, 7), [1, 2, 3, 4, 5, 6, 7]);
  const live = queue.push('p.odd', '8');
  t.same(await seqsUntil(c, live), [8]);
});

t.test('live messages arriving during a replay are held, then sent after it', async (t) => {
  const { queue, s } = await withQueue(t);
  for (let i = 1; i <= 3; i++) queue.push('a', String(i));
  queue.holdReplays = true;
  const c = await connect(t, s, true);
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 1, id: 'x' }));
  await replaysAsked(queue, 1);
  t.same(queue.replays[0], { from: 2, to: 3, pattern: 'a', limit: 1000 });
  queue.push('a', '4');
  queue.push('b', 'nobody');
  queue.push('a', '6');
  queue.answer(queue.heldReplays.shift()!);
  t.same(await c.r.json(), { op: 'subscribed', id: 'x', topic: 'a', seq: 3, recovered: true });
  t.same(await seqsUntil(c, 6), [2, 3, 4, 6]);
  queue.push('a', '7');
  t.same(await seqsUntil(c, 7), [7]);
  t.same(queue.acks.slice(-1), [7], 'every batch is acknowledged once handed over');
});

t.test('a resume skips what an overlapping subscription of the connection already delivered', async (t) => {
  const { queue, s } = await withQueue(t);
  queue.push('a.x', '1');
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a.>'), { op: 'subscribed', seq: 1 });
  queue.push('a.y', '2');
  t.same(await seqsUntil(c, 2), [2]);
  t.match(await subscribe(c, 'a.*', { since: 0 }), { op: 'subscribed', topic: 'a.*', seq: 2 });
  t.same(await seqsUntil(c, 1), [1], 'seq 1 predates a.>; seq 2 came through it already');
  queue.push('a.z', '3');
  t.same(await seqsUntil(c, 3), [3]);
  t.equal(c.r.pending, 0);
});

t.test('a subscription made before the first live message covers from that message on', async (t) => {
  const { queue, s } = await withQueue(t);
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a.>'), { op: 'subscribed', seq: 0 });
  queue.push('a.x', '1');
  t.same(await seqsUntil(c, 1), [1]);
  t.match(await subscribe(c, 'a.*', { since: 0 }), { op: 'subscribed', seq: 1, recovered: true });
  queue.push('a.y', '2');
  t.same(await seqsUntil(c, 2), [2], 'seq 1 is not replayed: a.> delivered it');
});

t.test('resuming an existing subscription fills only the gap before it', async (t) => {
  const { queue, s } = await withQueue(t);
  queue.push('a', '1');
  queue.push('a', '2');
  const c = await connect(t, s, true);
  await subscribe(c, 'a');
  queue.push('a', '3');
  t.same(await seqsUntil(c, 3), [3]);
  t.match(await subscribe(c, 'a', { since: 0, id: 'fill' }), { op: 'subscribed', id: 'fill', seq: 3, recovered: true });
  t.same(await seqsUntil(c, 2), [1, 2]);
  queue.push('a', '4');
  t.same(await seqsUntil(c, 4), [4]);
  t.equal(s.sub.stats().subscriptions, 1);
});

t.test('a subscriber still catching up does not deliver twice what a resume replayed', async (t) => {
  const { queue, s } = await withQueue(t);
  // The queue holds 1..3 but the subscriber's cursor has not delivered them yet.
  queue.holdDeliveries = true;
  for (let i = 1; i <= 3; i++) queue.push('a', String(i));
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a', { since: 0 }), { seq: 3, recovered: true });
  t.same(await seqsUntil(c, 3), [1, 2, 3]);
  queue.releaseDeliveries();
  queue.push('a', '4');
  t.same(await seqsUntil(c, 4), [4]);
});

t.test('a client ahead of the subscriber is not sent what it already has', async (t) => {
  const { queue, s } = await withQueue(t);
  queue.push('a', '1');
  await queue.waitFor(() => queue.cursor('subscriber') === 1);
  queue.holdDeliveries = true;
  queue.push('a', '2');
  queue.push('a', '3');
  const c = await connect(t, s, true);
  t.same(await subscribe(c, 'a', { since: 2 }), { op: 'subscribed', topic: 'a', seq: 1, recovered: true });
  t.equal(queue.replays.length, 0, 'nothing to replay');
  queue.releaseDeliveries();
  t.same(await seqsUntil(c, 3), [3]);
});

t.test('unsub during a replay: the rest of it is not sent; held messages of other subscriptions are', async (t) => {
  const { queue, s } = await withQueue(t);
  queue.push('a', '1');
  const c = await connect(t, s, true);
  await subscribe(c, 'b');
  queue.holdReplays = true;
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  await replaysAsked(queue, 1);
  queue.push('a', '2');
  const b = queue.push('b', '3');
  c.ws.send(JSON.stringify({ op: 'unsub', topic: 'a', id: 'u' }));
  t.same(await c.r.json(), { op: 'unsubscribed', id: 'u', topic: 'a' });
  queue.answer(queue.heldReplays.shift()!);
  t.same(await seqsUntil(c, b), [b]);
  t.same(s.sub.stats(), { connections: 1, subscriptions: 1, topics: 1 });
});

t.test('past maxReplayBufferMessages held, the connection is closed with 1013', async (t) => {
  const { queue, s } = await withQueue(t, { maxReplayBufferMessages: 2 });
  queue.push('a', '1');
  queue.holdReplays = true;
  const c = await connect(t, s, true);
  const healthy = await connect(t, s, true);
  await subscribe(healthy, 'a');
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  await replaysAsked(queue, 1);
  for (let i = 0; i < 3; i++) queue.push('a', String(i));
  t.equal((await c.r.waitClose()).code, 1013);
  t.same(await seqsUntil(healthy, 4), [2, 3, 4], 'the others are not affected');
  t.equal(await metricValue(s.metrics, 'wsq_closes_total', { reason: 'replay_buffer' }), 1);
  t.equal(await metricValue(s.metrics, 'wsq_dropped_messages_total', { reason: 'replay_buffer' }), 3);
  t.match(s.logs.text(), /"reason":"replay_buffer"/);
  await changed(s.sub, () => s.sub.stats().connections === 1);
  queue.answer(queue.heldReplays.shift()!);
});

t.test('a replay the queue cannot answer: an error frame first, a 1013 close midway', async (t) => {
  const { queue, s } = await withQueue(t, { replayBatchMessages: 1 });
  queue.push('a', '1');
  queue.push('a', '2');
  queue.holdReplays = true;
  const c = await connect(t, s, true);
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0, id: 'e' }));
  await replaysAsked(queue, 1);
  queue.heldReplays.shift()!.reject(new ProtocolError('UNAVAILABLE', 'link down'));
  t.match(await c.r.json(), { op: 'error', id: 'e', code: 'UNAVAILABLE' });
  t.equal(s.sub.stats().subscriptions, 0, 'the subscription was not kept');
  c.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  await replaysAsked(queue, 2);
  queue.answer(queue.heldReplays.shift()!);
  t.match(await c.r.json(), { op: 'subscribed', recovered: true });
  t.same(await seqsUntil(c, 1), [1]);
  await replaysAsked(queue, 3);
  queue.heldReplays.shift()!.reject(new ProtocolError('UNAVAILABLE', 'link down'));
  t.equal((await c.r.waitClose()).code, 1013, 'the client resumes with since');
  t.equal(await metricValue(s.metrics, 'wsq_closes_total', { reason: 'replay_failed' }), 1);
});

t.test('a resume before the link was ever up answers UNAVAILABLE', async (t) => {
  const { queue, s } = await withQueue(t);
  queue.down('never linked', 'connecting');
  const c = await connect(t, s, true);
  t.match(await subscribe(c, 'a', { since: 0, id: 'z' }), { op: 'error', id: 'z', code: 'UNAVAILABLE' });
  t.equal(s.sub.stats().subscriptions, 0);
});

t.test('replays in flight are bounded by maxConcurrentReplays', async (t) => {
  const { queue, s } = await withQueue(t, { maxConcurrentReplays: 1 });
  queue.push('a', '1');
  queue.holdReplays = true;
  const one = await connect(t, s, true);
  const two = await connect(t, s, true);
  one.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  await replaysAsked(queue, 1);
  two.ws.send(JSON.stringify({ op: 'sub', topic: 'a', since: 0 }));
  // Frames of one connection are handled in order: once this answers, the resume was taken.
  t.match(await subscribe(two, 'marker'), { op: 'subscribed', topic: 'marker' });
  t.equal(queue.replays.length, 1, 'the second replay waits its turn');
  queue.answer(queue.heldReplays.shift()!);
  await replaysAsked(queue, 2);
  queue.answer(queue.heldReplays.shift()!);
  t.same(
    (await frames(one, 2)).map((f) => f.op),
    ['subscribed', 'msg'],
  );
  t.same(
    (await frames(two, 2)).map((f) => f.op),
    ['subscribed', 'msg'],
  );
});
