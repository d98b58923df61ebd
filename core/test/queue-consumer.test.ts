import t from 'tap';
import {
  createQueueConsumer,
  MAX_PENDING_REPLAYS,
  type QueueConsumerOptions,
} from '../src/queue/link/queue-consumer.js';
import type { QueueMessage } from '../src/queue/queue.js';
import {
  type StubQueue,
  type Teardown,
  logSink,
  recordStates,
  startStubQueue,
  stubLinkOptions,
} from './helpers/index.js';

function consumer(t: Teardown, stub: StubQueue, over: Partial<QueueConsumerOptions> = {}) {
  const states = recordStates();
  const c = createQueueConsumer({
    ...stubLinkOptions(stub),
    name: 'sub-1',
    window: 4096,
    onState: states.onState,
    ...over,
  });
  t.teardown(() => c.close());
  const got: QueueMessage[] = [];
  const batches: number[] = [];
  /** Resolves once `n` messages in total were handed over. */
  const waiters: { n: number; resolve(): void }[] = [];
  const onMessages = (batch: QueueMessage[]) => {
    got.push(...batch);
    batches.push(batch.length);
    for (const w of waiters.filter((w) => got.length >= w.n)) w.resolve();
  };
  const received = (n: number) =>
    got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { c, states, got, batches, onMessages, received };
}

const seqs = (ms: { seq: number }[]) => ms.map((m) => m.seq);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

t.test('streams from the durable cursor in order; acks are cumulative and coalesced', async (t) => {
  const stub = await startStubQueue(t);
  for (let i = 1; i <= 5; i++) stub.push('news', String(i));
  const { c, states, got, onMessages, received } = consumer(t, stub);
  c.start(onMessages);
  t.equal(await states.when('up'), undefined);
  t.same(stub.lastConsume, { name: 'sub-1', window: 4096, next: 1 });
  await received(5);
  t.same(seqs(got), range(1, 5));
  t.same(got[0], { seq: 1, topic: 'news', data: '1', ts: stub.log[0]!.ts });
  t.equal(c.lastSeq, 5);
  c.ack(1);
  c.ack(3);
  c.ack(2);
  c.ack(5);
  await stub.waitFor(() => stub.cursor('sub-1') === 5);
  t.equal(stub.acks, 1, 'one ack frame for one turn of acks');
  stub.push('news', '6');
  await received(6);
  t.equal(got[5]!.seq, 6);
  t.equal(c.lastSeq, 6);
  t.throws(() => c.start(onMessages), 'start twice is a programming error');
});

t.test('the queue never has more than `window` messages unacknowledged', async (t) => {
  const stub = await startStubQueue(t);
  for (let i = 1; i <= 10; i++) stub.push('news', String(i));
  const { c, states, got, onMessages, received } = consumer(t, stub, { window: 3 });
  c.start(onMessages);
  await states.when('up');
  await received(3);
  // A replay answer comes after every msgs frame the queue sent before it on this socket.
  await c.replay(1, 1, undefined, 1);
  t.same(seqs(got), [1, 2, 3]);
  t.equal(stub.outstanding, 3);
  c.ack(2);
  await received(5);
  await c.replay(1, 1, undefined, 1);
  t.same(seqs(got), range(1, 5));
  t.equal(stub.outstanding, 3);
  c.ack(10);
  await received(10);
  t.same(seqs(got), range(1, 10));
});

t.test('replay: range, pattern, limit and retention', async (t) => {
  const stub = await startStubQueue(t);
  const topics = ['a.1', 'b.1', 'a.2', 'a.3', 'b.2', 'a.4'];
  for (const topic of topics) stub.push(topic, `"${topic}"`);
  const { c, states, onMessages } = consumer(t, stub);
  c.start(onMessages);
  await states.when('up');
  const all = await c.replay(1, 6, 'a.*', 100);
  t.same(seqs(all.messages), [1, 3, 4, 6]);
  t.same(all.messages[1], { seq: 3, topic: 'a.2', data: '"a.2"', ts: stub.log[2]!.ts });
  t.equal(all.more, false);
  t.equal(all.firstSeq, 1);
  const cut = await c.replay(2, 6, undefined, 2);
  t.same(seqs(cut.messages), [2, 3]);
  t.equal(cut.more, true);
  t.equal(cut.next, 4, 'where to continue');
  t.equal(all.next, 7);
  stub.firstSeq = 4;
  const gone = await c.replay(1, 6, undefined, 100);
  t.equal(gone.firstSeq, 4, 'the caller learns retention does not reach back');
  t.same(seqs(gone.messages), [4, 5, 6]);
  await t.rejects(c.replay(1, 6, 'a..b', 100), { code: 'BAD_TOPIC' }, 'the queue refuses a bad pattern');
});

t.test('replays are bounded and need the link', async (t) => {
  const stub = await startStubQueue(t);
  const { c, states, onMessages } = consumer(t, stub);
  await t.rejects(c.replay(1, 2, undefined, 10), { code: 'UNAVAILABLE' }, 'not started');
  c.start(onMessages);
  await states.when('up');
  const many = Array.from({ length: MAX_PENDING_REPLAYS }, () => c.replay(1, 2, undefined, 10));
  await t.rejects(c.replay(1, 2, undefined, 10), { code: 'LIMIT_EXCEEDED' });
  await Promise.all(many);

  const cut = c.replay(1, 2, undefined, 10);
  const rejected = t.rejects(cut, { code: 'UNAVAILABLE' }, 'the link dropped before the answer');
  await stub.stop();
  await rejected;
  await t.rejects(c.replay(1, 2, undefined, 10), { code: 'UNAVAILABLE' }, 'while the link is down');
});

t.test('after a reconnect, messages handed over but not acked are not handed over again', async (t) => {
  const stub = await startStubQueue(t);
  for (let i = 1; i <= 5; i++) stub.push('news', String(i));
  const { c, states, got, onMessages, received } = consumer(t, stub);
  c.start(onMessages);
  await states.when('up');
  await received(5);
  c.ack(2);
  await stub.waitFor(() => stub.cursor('sub-1') === 2);
  const down = states.next('down');
  await stub.stop();
  await down;
  c.ack(4); // made while the link is down: it must reach the queue after the reconnect
  const up = states.next('up');
  await stub.restart();
  await up;
  t.equal(stub.lastConsume?.next, 3, 'the queue resumed from the durable cursor');
  await stub.waitFor(() => stub.cursor('sub-1') === 4);
  stub.push('news', '6');
  await received(6);
  t.same(seqs(got), range(1, 6), 'seqs 3-5 came again from the queue and were dropped');
  t.equal(c.lastSeq, 6);
});

t.test('a consumer name resumes where the previous instance acked', async (t) => {
  const stub = await startStubQueue(t);
  for (let i = 1; i <= 4; i++) stub.push('news', String(i));
  const first = consumer(t, stub);
  first.c.start(first.onMessages);
  await first.received(4);
  first.c.ack(3);
  await first.c.close(); // the pending ack leaves before the close
  t.equal(stub.cursor('sub-1'), 3);
  t.equal(first.c.state, 'closed');
  const second = consumer(t, stub);
  second.c.start(second.onMessages);
  await second.received(1);
  t.same(seqs(second.got), [4]);
});

t.test('legacy fallback: every text frame is a message with a local seq', async (t) => {
  const stub = await startStubQueue(t, { legacy: true });
  const { c, states, got, onMessages, received } = consumer(t, stub);
  c.start(onMessages);
  await states.when('up');
  await stub.waitFor(() => stub.connections === 1);
  stub.push('news', '"hello"');
  stub.push('sport', '{"a":1}');
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
  c.ack(2);
  t.same(await c.replay(1, 2, undefined, 10), { messages: [], firstSeq: 3, more: false, next: 3 });
  t.equal(c.lastSeq, 2);
  t.equal(stub.acks, 0);
});

t.test('an onMessages that throws is logged and does not stop the stream', async (t) => {
  const stub = await startStubQueue(t);
  const sink = logSink();
  const { c, states, got, onMessages, received } = consumer(t, stub, { log: sink.log });
  let calls = 0;
  c.start((batch) => {
    onMessages(batch);
    if (++calls === 1) throw new Error('boom');
  });
  await states.when('up');
  stub.push('news', '1');
  await received(1);
  stub.push('news', '2');
  await received(2);
  t.same(seqs(got), [1, 2]);
  t.ok(sink.lines().some((l) => l.level === 'error' && /onMessages threw/.test(String(l.msg))));
});

t.test('acks wait up to ackDelayMs to be joined, unless a quarter of the window is waiting', async (t) => {
  const stub = await startStubQueue(t);
  for (let i = 1; i <= 8; i++) stub.push('news', String(i));
  const held = consumer(t, stub, { window: 8, ackDelayMs: 60_000 });
  held.c.start(held.onMessages);
  await held.received(8);
  held.c.ack(1);
  await new Promise((resolve) => setImmediate(resolve));
  await held.c.replay(1, 1, undefined, 1); // a round trip to the queue: an ack sent before it has arrived
  t.equal(stub.acks, 0, 'one waiting message is not worth a frame of its own yet');
  held.c.ack(2);
  await stub.waitFor(() => stub.cursor('sub-1') === 2);
  t.equal(stub.acks, 1, 'two of a window of 8 go at once, in one frame');
  await held.c.close();

  const timed = consumer(t, stub, { name: 'sub-2', window: 4096, ackDelayMs: 5 });
  timed.c.start(timed.onMessages);
  await timed.received(8);
  timed.c.ack(3);
  timed.c.ack(4);
  await stub.waitFor(() => stub.cursor('sub-2') === 4);
  t.equal(stub.acks, 2, 'the delayed ack left on its own, once');
});
