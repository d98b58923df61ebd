import t from 'tap';
import { ProtocolError } from '../src/protocol/errors.js';
import { createQueueProducer, type QueueProducerOptions } from '../src/queue/link/queue-producer.js';
import type { QueueProducer } from '../src/queue/queue.js';
import { type StubQueue, type Teardown, recordStates, startStubQueue, stubLinkOptions } from './helpers/index.js';

function producer(t: Teardown, stub: StubQueue, over: Partial<QueueProducerOptions> = {}) {
  const states = recordStates();
  const p = createQueueProducer({
    ...stubLinkOptions(stub),
    outboxMessages: 10_000,
    outboxBytes: 8 << 20,
    onState: states.onState,
    ...over,
  });
  t.teardown(() => p.close());
  return { p, states };
}

function appendMany(p: QueueProducer, n: number, from = 0): Promise<number>[] {
  const out: Promise<number>[] = [];
  for (let i = from; i < from + n; i++)
    out.push(p.append({ topic: 'news', data: JSON.stringify(`m${i}`), ts: 1000 + i }));
  return out;
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

t.test('appends of one turn leave in few frames and resolve with their seqs in order', async (t) => {
  const stub = await startStubQueue(t);
  const { p, states } = producer(t, stub);
  await states.when('up');
  t.same(await Promise.all(appendMany(p, 100)), range(1, 100));
  t.equal(stub.appends, 1, 'one append frame for 100 messages');
  t.same(
    stub.log.map((m) => m.data),
    range(0, 99).map((i) => JSON.stringify(`m${i}`)),
  );
  t.equal(stub.log[5]!.ts, 1005, 'ts travels with the message');
  t.equal(p.outboxDepth, 0);

  const small = producer(t, stub, { maxBatchMessages: 10 }).p;
  t.same(await Promise.all(appendMany(small, 95)), range(101, 195));
  t.equal(stub.appends, 1 + 10, '95 messages in frames of at most 10');
});

t.test('appends made before the link is up wait in the outbox and go out once it is', async (t) => {
  const stub = await startStubQueue(t);
  const { p } = producer(t, stub);
  const pending = appendMany(p, 3);
  t.equal(p.outboxDepth, 3);
  t.same(await Promise.all(pending), [1, 2, 3]);
});

t.test('at most maxInflightBatches append frames are unanswered', async (t) => {
  const stub = await startStubQueue(t, { holdAppends: true });
  const { p } = producer(t, stub, { maxBatchMessages: 2, maxInflightBatches: 3 });
  let maxHeld = 0;
  const track = () => (maxHeld = Math.max(maxHeld, stub.held));
  stub.events.on('change', track);
  t.teardown(() => stub.events.off('change', track));
  const all = appendMany(p, 20);
  // Answer frames only in groups of three: a producer that sends a fourth early is caught.
  let released = 0;
  while (released < 10) {
    await stub.waitFor(() => stub.held >= 3 || stub.held + released === 10);
    released += stub.held;
    stub.release({ keepHolding: true });
  }
  t.same(await Promise.all(all), range(1, 20));
  t.equal(stub.appends, 10);
  t.equal(maxHeld, 3, 'never more than 3 frames in flight, and the limit was reached');
});

t.test('a full outbox refuses with UNAVAILABLE, by count and by bytes', async (t) => {
  const stub = await startStubQueue(t, { holdAppends: true });
  const { p, states } = producer(t, stub, { outboxMessages: 5 });
  await states.when('up');
  const held = appendMany(p, 5);
  await t.rejects(p.append({ topic: 'news', data: '1', ts: 1 }), { code: 'UNAVAILABLE' });
  t.equal(p.outboxDepth, 5);
  await stub.waitFor(() => stub.held === 1);
  stub.release();
  t.same(await Promise.all(held), range(1, 5));
  t.equal(p.outboxDepth, 0);
  t.equal(await p.append({ topic: 'news', data: '1', ts: 1 }), 6, 'room again once acked');

  const tiny = producer(t, stub, { outboxBytes: 100 }).p;
  stub.holdAppends = true;
  const first = tiny.append({ topic: 'news', data: JSON.stringify('x'.repeat(40)), ts: 1 });
  await t.rejects(tiny.append({ topic: 'news', data: JSON.stringify('y'.repeat(40)), ts: 1 }), { code: 'UNAVAILABLE' });
  await stub.waitFor(() => stub.held === 1);
  stub.release();
  t.equal(await first, 7);
});

t.test('a queue that restarts mid-stream gets every message exactly once, in order', async (t) => {
  const stub = await startStubQueue(t, { holdAppends: true });
  const { p, states } = producer(t, stub, { maxBatchMessages: 10 });
  await states.when('up');
  const first = appendMany(p, 30);
  await stub.waitFor(() => stub.held === 3);
  // The queue wrote the first 30 but dies before its acks leave.
  stub.release({ silent: true });
  const down = states.next('down');
  await stub.stop();
  await down;
  const second = appendMany(p, 20, 30);
  t.equal(p.outboxDepth, 50, 'everything waits while the queue is away');
  await stub.restart();
  t.same(await Promise.all([...first, ...second]), range(1, 50));
  t.same(
    stub.log.map((m) => m.data),
    range(0, 49).map((i) => JSON.stringify(`m${i}`)),
    'no duplicates: re-sends were deduped by pid',
  );
  t.equal(p.state, 'up');
});

t.test("the caller's pid is kept, so the queue dedupes a repeat", async (t) => {
  const stub = await startStubQueue(t);
  const { p } = producer(t, stub);
  const a = await p.append({ topic: 'news', data: '1', ts: 1, pid: 'alice\u0000r1' });
  const b = await p.append({ topic: 'news', data: '1', ts: 1, pid: 'alice\u0000r1' });
  t.equal(a, b);
  t.equal(stub.log.length, 1);
});

t.test('an error reply rejects its batch with that code; UNAVAILABLE is retried', async (t) => {
  const stub = await startStubQueue(t);
  const { p, states } = producer(t, stub);
  await states.when('up');
  stub.failAppends = 'FORBIDDEN';
  const refused = p.append({ topic: 'news', data: '1', ts: 1 });
  await t.rejects(refused, new ProtocolError('FORBIDDEN', ''));
  await t.rejects(refused, { code: 'FORBIDDEN' });
  t.equal(p.outboxDepth, 0);

  stub.failAppends = 'UNAVAILABLE';
  const retried = p.append({ topic: 'news', data: '2', ts: 2 });
  const accepted = stub.accepted;
  await stub.waitFor(() => stub.appends === 2);
  stub.failAppends = undefined;
  t.equal(await retried, 1, 'kept, and taken after the reconnect');
  t.ok(stub.accepted > accepted, 'the producer reconnected');
});

t.test('close rejects what waits, refuses new appends and leaves the queue alone', async (t) => {
  const stub = await startStubQueue(t, { holdAppends: true });
  const { p, states } = producer(t, stub);
  await states.when('up');
  const waiting = p.append({ topic: 'news', data: '1', ts: 1 });
  await stub.waitFor(() => stub.held === 1);
  const rejected = t.rejects(waiting, { code: 'UNAVAILABLE' });
  await p.close();
  await rejected;
  await t.rejects(p.append({ topic: 'news', data: '1', ts: 1 }), { code: 'UNAVAILABLE' });
  t.equal(p.state, 'closed');
  t.equal(p.outboxDepth, 0);
  await stub.waitFor(() => stub.connections === 0);
  await p.close(); // idempotent
});

t.test('legacy fallback: a ws-go queue gets one {Topic,Content} frame per message', async (t) => {
  const stub = await startStubQueue(t, { legacy: true });
  const { p, states } = producer(t, stub);
  await states.when('up');
  const seqs = await Promise.all([
    p.append({ topic: 'news', data: '"hello"', ts: 1 }),
    p.append({ topic: 'news', data: '{"a":1}', ts: 2 }),
    p.append({ topic: 'sport', data: '3', ts: 3 }),
  ]);
  t.same(seqs, [1, 2, 3], 'a local counter stands in for seqs');
  await stub.waitFor(() => stub.log.length === 3);
  t.same(
    stub.log.map((m) => [m.topic, m.data]),
    [
      ['news', '"hello"'],
      ['news', JSON.stringify('{"a":1}')],
      ['sport', '"3"'],
    ],
    'string data as its value, other JSON as its text',
  );
  t.equal(stub.appends, 3, 'one frame per message');
});

t.test('onDepth reports the outbox after each append and once per settled batch', async (t) => {
  const stub = await startStubQueue(t, { holdAppends: true });
  const seen: [number, number][] = [];
  const { p, states } = producer(t, stub, { onDepth: (depth, bytes) => seen.push([depth, bytes]) });
  await states.when('up');
  const pending = appendMany(p, 3);
  t.same(
    seen.map(([d]) => d),
    [1, 2, 3],
    'one call per append, depth growing',
  );
  t.ok(seen[2]![1] > seen[0]![1], 'bytes grow with depth');
  await stub.waitFor(() => stub.held === 1);
  stub.release();
  await Promise.all(pending);
  t.same(seen.slice(3), [[0, 0]], 'one call when the batch of 3 settled');
  const full = producer(t, stub, { outboxMessages: 1 }).p;
  const first = full.append({ topic: 'news', data: '"a"', ts: 1 });
  const [e1, e2] = await Promise.allSettled([
    full.append({ topic: 'news', data: '"b"', ts: 2 }),
    full.append({ topic: 'news', data: '"c"', ts: 3 }),
  ]);
  t.match(e1, { status: 'rejected', reason: { code: 'UNAVAILABLE' } });
  t.equal(
    (e1 as PromiseRejectedResult).reason,
    (e2 as PromiseRejectedResult).reason,
    'one shared error, no stack per refusal',
  );
  t.equal(await first, 4, 'the one that fitted is taken');
});

t.test('offer refuses a topic the link cannot carry, first or not, and the batch around it goes through', async (t) => {
  const stub = await startStubQueue(t);
  const { p, states } = producer(t, stub);
  await states.when('up');
  const done = () => undefined;
  t.equal(p.offer({ topic: '', data: '0', ts: 1 }, done, undefined)?.code, 'BAD_TOPIC', 'as the very first offer');
  t.equal(p.offer({ topic: 'news', data: '1', ts: 1 }, done, undefined), undefined);
  t.equal(p.offer({ topic: 'x'.repeat(256), data: '2', ts: 1 }, done, undefined)?.code, 'BAD_TOPIC');
  t.equal(p.offer({ topic: 'né', data: '3', ts: 1 }, done, undefined)?.code, 'BAD_TOPIC', 'not ASCII');
  t.equal(p.offer({ topic: 'news', data: '4', ts: 1 }, done, undefined), undefined);
  await stub.waitFor(() => stub.log.length === 2);
  t.same(
    stub.log.map((m) => m.data),
    ['1', '4'],
  );
});

t.test('offer: one callback per message with its ctx; a refusal comes back at once instead', async (t) => {
  const stub = await startStubQueue(t, { holdAppends: true });
  const journaled: number[] = [];
  const spans: number[] = [];
  const calls: [string, string | undefined, number][] = [];
  const { p, states } = producer(t, stub, {
    outboxMessages: 2,
    onJournaled: (at, done) => journaled.push(at) && spans.push(done - at),
  });
  const p2 = p;
  await states.when('up');
  let bothSettled!: () => void;
  const settled = new Promise<void>((resolve) => (bothSettled = resolve));
  const done = (ctx: string, err: ProtocolError | undefined, seq: number) => {
    if (calls.push([ctx, err?.code, seq]) === 2) bothSettled();
  };
  const before = performance.now();
  t.equal(p2.offer({ topic: 'news', data: '1', ts: 1 }, done, 'a'), undefined);
  t.equal(p2.offer({ topic: 'news', data: '2', ts: 2 }, done, 'b'), undefined);
  const refused = p2.offer({ topic: 'news', data: '3', ts: 3 }, done, 'c');
  t.equal(refused?.code, 'UNAVAILABLE', 'the full outbox answers at once');
  t.same(calls, [], 'nothing settles synchronously');
  await stub.waitFor(() => stub.held === 1);
  stub.release();
  await settled;
  t.same(calls, [
    ['a', undefined, 1],
    ['b', undefined, 2],
  ]);
  t.equal(journaled.length, 2, 'onJournaled once per journaled message');
  t.ok(
    journaled.every((at) => at >= before),
    'with the time the message was offered',
  );
  await p.close();
  t.equal(p.offer({ topic: 'news', data: '4', ts: 4 }, done, 'd')?.code, 'UNAVAILABLE', 'closed refuses at once');
  t.equal(calls.length, 2, 'and never calls back');
});
