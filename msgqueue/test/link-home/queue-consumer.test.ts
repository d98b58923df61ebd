/**
 * The queue consumer of core's link home against the real msgqueue: the durable cursor,
 * windowed delivery and coalesced acks, replay paging, reconnects without handing anything over
 * twice, the legacy link. A relay shows the frames where a test counts them.
 */
import t from 'tap';
import { createQueueConsumer, MAX_PENDING_REPLAYS, type QueueConsumerOptions, type QueueMessage } from '@wsq/core';
import { logSink, startLegacyMsgqueue, type Teardown } from '@wsq/core/testing';
import {
  eventually,
  linkOptions,
  recordStates,
  restartableQueue,
  startRelay,
  type Relay,
  type RestartableQueue,
} from '../helpers/link-home.js';
import { linkClient } from '../helpers/queue.js';

function consumer(t: Teardown, target: { url: string; ca: Buffer }, over: Partial<QueueConsumerOptions> = {}) {
  const states = recordStates();
  const c = createQueueConsumer({
    ...linkOptions(target),
    name: 'sub-1',
    window: 4096,
    onState: states.onState,
    ...over,
  });
  t.teardown(() => c.close());
  const got: QueueMessage[] = [];
  /** Resolves once `n` messages in total were handed over. */
  const waiters: { n: number; resolve(): void }[] = [];
  const onMessages = (batch: QueueMessage[]) => {
    got.push(...batch);
    for (const w of waiters.filter((w) => got.length >= w.n)) w.resolve();
  };
  const received = (n: number) =>
    got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { c, states, got, onMessages, received };
}

/** Appends to the real queue as a producer would; returns the seqs. */
async function push(t: Teardown, q: RestartableQueue, msgs: [topic: string, data: string][]): Promise<number[]> {
  const p = await linkClient(t, q.current, '/pushmsg');
  const seqs = await p.append(
    1,
    msgs.map(([topic, data]) => ({ topic, data })),
  );
  p.ws.terminate();
  return seqs;
}

const news = (from: number, to: number): [string, string][] => range(from, to).map((i) => ['news', String(i)]);
const seqs = (ms: { seq: number }[]) => ms.map((m) => m.seq);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Messages the queue sent through the relay and the consumer has not acknowledged. */
function outstanding(relay: Relay): number {
  let sent = 0;
  for (const r of relay.replies) if (r.op === 'msgs') sent = Math.max(sent, ...r.msgs.map((m) => m.seq));
  let acked = 0;
  for (const r of relay.requests) if (r.op === 'ack') acked = Math.max(acked, r.seq);
  return sent - acked;
}

t.test('streams from the durable cursor in order; acks are cumulative and coalesced', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  await push(t, q, news(1, 5));
  const { c, states, got, onMessages, received } = consumer(t, relay);
  c.start(onMessages);
  t.equal(await states.when('up'), undefined);
  t.match(relay.requests[0], { op: 'consume', name: 'sub-1', window: 4096 });
  t.match(relay.replies[0], { op: 'consuming', name: 'sub-1', next: 1 });
  await received(5);
  t.same(seqs(got), range(1, 5));
  t.match(got[0], { seq: 1, topic: 'news', data: '1' });
  t.type(got[0]!.ts, 'number');
  t.equal(c.lastSeq, 5);
  c.ack(1);
  c.ack(3);
  c.ack(2);
  c.ack(5);
  await relay.waitFor(() => relay.count('ack') === 1);
  await eventually(async () => (await q.cursor('sub-1')) === 5);
  t.equal(relay.count('ack'), 1, 'one ack frame for one turn of acks');
  await push(t, q, [['news', '6']]);
  await received(6);
  t.equal(got[5]!.seq, 6);
  t.equal(c.lastSeq, 6);
  t.throws(() => c.start(onMessages), 'start twice is a programming error');
});

t.test('the queue never has more than `window` messages unacknowledged', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  await push(t, q, news(1, 10));
  const { c, states, got, onMessages, received } = consumer(t, relay, { window: 3 });
  c.start(onMessages);
  await states.when('up');
  await received(3);
  // A replay answer comes after every msgs frame the queue sent before it on this socket.
  await c.replay(1, 1, undefined, 1);
  t.same(seqs(got), [1, 2, 3]);
  t.equal(outstanding(relay), 3);
  c.ack(2);
  await received(5);
  await c.replay(1, 1, undefined, 1);
  t.same(seqs(got), range(1, 5));
  t.equal(outstanding(relay), 3);
  c.ack(10);
  await received(10);
  t.same(seqs(got), range(1, 10));
});

t.test('replay: range, pattern, limit, paging with next', async (t) => {
  const q = await restartableQueue(t);
  const topics = ['a.1', 'b.1', 'a.2', 'a.3', 'b.2', 'a.4'];
  await push(
    t,
    q,
    topics.map((topic) => [topic, `"${topic}"`]),
  );
  const { c, states, onMessages } = consumer(t, q);
  c.start(onMessages);
  await states.when('up');
  const all = await c.replay(1, 6, 'a.*', 100);
  t.same(seqs(all.messages), [1, 3, 4, 6]);
  t.match(all.messages[1], { seq: 3, topic: 'a.2', data: '"a.2"' });
  t.equal(all.more, false);
  t.equal(all.firstSeq, 1);
  t.equal(all.next, 7);
  const cut = await c.replay(2, 6, undefined, 2);
  t.same(seqs(cut.messages), [2, 3]);
  t.equal(cut.more, true);
  t.equal(cut.next, 4, 'where to continue');
  const rest = await c.replay(cut.next, 6, undefined, 2);
  t.same(seqs(rest.messages), [4, 5]);
  const last = await c.replay(rest.next, 6, undefined, 2);
  t.same(seqs(last.messages), [6]);
  t.equal(last.more, false);
  await t.rejects(c.replay(1, 6, 'a..b', 100), { code: 'BAD_TOPIC' }, 'the queue refuses a bad pattern');
});

t.test('replay: the caller learns when retention no longer reaches back', async (t) => {
  const q = await restartableQueue(t, { segmentBytes: 4096, retainMessages: 3 });
  const big = JSON.stringify('x'.repeat(1500));
  // One append per message: segments roll between appends.
  for (let i = 1; i <= 8; i++) await push(t, q, [['news', big]]);
  const first = await q.metric('wsq_queue_first_seq');
  t.ok(first > 1, `retention dropped the oldest segments (first seq ${first})`);
  const { c, states, onMessages } = consumer(t, q);
  c.start(onMessages);
  await states.when('up');
  const gone = await c.replay(1, 8, undefined, 100);
  t.equal(gone.firstSeq, first, 'firstSeq is the oldest retained');
  t.same(seqs(gone.messages), range(first, 8));
});

t.test('replays are bounded and need the link', async (t) => {
  // The queue's own bound (16 waiting by default) is raised so that the consumer's is the one met.
  const q = await restartableQueue(t, { maxPendingReplays: MAX_PENDING_REPLAYS });
  await push(t, q, news(1, 2));
  const { c, states, onMessages } = consumer(t, q);
  await t.rejects(c.replay(1, 2, undefined, 10), { code: 'UNAVAILABLE' }, 'not started');
  c.start(onMessages);
  await states.when('up');
  const many = Array.from({ length: MAX_PENDING_REPLAYS }, () => c.replay(1, 2, undefined, 10));
  await t.rejects(c.replay(1, 2, undefined, 10), { code: 'LIMIT_EXCEEDED' });
  await Promise.all(many);

  const down = states.next('down');
  await q.stop();
  await down;
  await t.rejects(c.replay(1, 2, undefined, 10), { code: 'UNAVAILABLE' }, 'while the link is down');
});

t.test('a replay in flight when the link drops is rejected with UNAVAILABLE', async (t) => {
  // The relay holds nothing back but replay answers are quick: cut the link right after the request left.
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  const { c, states, onMessages } = consumer(t, relay);
  c.start(onMessages);
  await states.when('up');
  const cut = c.replay(1, 2, undefined, 10);
  relay.cut();
  await t.rejects(cut, { code: 'UNAVAILABLE' }, 'the link dropped before the answer');
});

t.test('after a restart of the queue, messages handed over but not acked are not handed over again', async (t) => {
  const q = await restartableQueue(t, { fsync: 'always' });
  await push(t, q, news(1, 5));
  const { c, states, got, onMessages, received } = consumer(t, q);
  c.start(onMessages);
  await states.when('up');
  await received(5);
  c.ack(2);
  await eventually(async () => (await q.cursor('sub-1')) === 2);
  const down = states.next('down');
  await q.stop();
  await down;
  c.ack(4); // made while the link is down: it must reach the queue after the reconnect
  const up = states.next('up');
  await q.restart();
  await up;
  await eventually(async () => (await q.cursor('sub-1')) === 4);
  await push(t, q, [['news', '6']]);
  await received(6);
  t.same(seqs(got), range(1, 6), 'seqs 3-5 came again from the queue and were dropped');
  t.equal(c.lastSeq, 6);
});

t.test('after a dropped link the queue resumes from the durable cursor', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  await push(t, q, news(1, 5));
  const { c, states, got, onMessages, received } = consumer(t, relay);
  c.start(onMessages);
  await states.when('up');
  await received(5);
  c.ack(2);
  await relay.waitFor(() => relay.count('ack') === 1);
  await eventually(async () => (await q.cursor('sub-1')) === 2);
  const up = states.next('up');
  relay.cut();
  await up;
  const consuming = relay.replies.filter((r) => r.op === 'consuming');
  t.match(consuming[1], { op: 'consuming', next: 3 }, 'the queue resumed from the durable cursor');
  await push(t, q, [['news', '6']]);
  await received(6);
  t.same(seqs(got), range(1, 6), 'no message handed over twice');
});

t.test('a consumer name resumes where the previous instance acked', async (t) => {
  const q = await restartableQueue(t);
  await push(t, q, news(1, 4));
  const first = consumer(t, q);
  first.c.start(first.onMessages);
  await first.received(4);
  first.c.ack(3);
  await first.c.close(); // the pending ack leaves before the close
  await eventually(async () => (await q.cursor('sub-1')) === 3);
  t.equal(first.c.state, 'closed');
  const second = consumer(t, q);
  second.c.start(second.onMessages);
  await second.received(1);
  t.same(seqs(second.got), [4]);
});

t.test('legacy fallback: every text frame from a ws-go queue is a message with a local seq', async (t) => {
  const goQueue = await startLegacyMsgqueue(t);
  const { c, states, got, onMessages, received } = consumer(t, goQueue);
  c.start(onMessages);
  await states.when('up');
  await goQueue.waitFor(() => goQueue.poppers === 1);
  goQueue.push('news', '"hello"');
  goQueue.push('sport', '{"a":1}');
  await received(2);
  t.same(
    got.map((m) => [m.seq, m.topic, m.data]),
    [
      [1, 'news', '"hello"'],
      [2, 'sport', JSON.stringify('{"a":1}')],
    ],
    'Content arrives as a JSON string',
  );
  t.type(got[0]!.ts, 'number');
  c.ack(2); // ws-go has no acks: nothing is sent
  t.same(await c.replay(1, 2, undefined, 10), { messages: [], firstSeq: 3, more: false, next: 3 });
  t.equal(c.lastSeq, 2);
  await c.close(); // a pending ack would leave before the close frame
  await goQueue.waitFor(() => goQueue.poppers === 0);
  t.equal(goQueue.popFrames, 0, 'no ack frame reached the ws-go queue');
});

t.test('an onMessages that throws is logged and does not stop the stream', async (t) => {
  const q = await restartableQueue(t);
  const sink = logSink();
  const { c, states, got, onMessages, received } = consumer(t, q, { log: sink.log });
  let calls = 0;
  c.start((batch) => {
    onMessages(batch);
    if (++calls === 1) throw new Error('boom');
  });
  await states.when('up');
  await push(t, q, [['news', '1']]);
  await received(1);
  await push(t, q, [['news', '2']]);
  await received(2);
  t.same(seqs(got), [1, 2]);
  t.ok(sink.lines().some((l) => l.level === 'error' && /onMessages threw/.test(String(l.msg))));
});

t.test('acks wait up to ackDelayMs to be joined, unless a quarter of the window is waiting', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  await push(t, q, news(1, 8));
  const held = consumer(t, relay, { window: 8, ackDelayMs: 60_000 });
  held.c.start(held.onMessages);
  await held.received(8);
  held.c.ack(1);
  await new Promise((resolve) => setImmediate(resolve));
  await held.c.replay(1, 1, undefined, 1); // a round trip to the queue: an ack sent before it has arrived
  t.equal(relay.count('ack'), 0, 'one waiting message is not worth a frame of its own yet');
  held.c.ack(2);
  await relay.waitFor(() => relay.count('ack') === 1);
  await eventually(async () => (await q.cursor('sub-1')) === 2);
  t.equal(relay.count('ack'), 1, 'two of a window of 8 go at once, in one frame');
  await held.c.close();

  const timed = consumer(t, relay, { name: 'sub-2', window: 4096, ackDelayMs: 5 });
  timed.c.start(timed.onMessages);
  await timed.received(8);
  timed.c.ack(3);
  timed.c.ack(4);
  await eventually(async () => (await q.cursor('sub-2')) === 4);
  t.equal(relay.count('ack'), 2, 'the delayed ack left on its own, once');
});
