/**
 * The queue producer of core's link home against the real msgqueue: batching, the outbox
 * bound, in-flight frames, re-sends after a drop deduped by the queue, refusals. A relay shows
 * the frames and holds or cuts them where a test needs it.
 */
import { join } from 'node:path';
import t from 'tap';
import {
  createQueueProducer,
  hashPassword,
  ProtocolError,
  writeUsersFile,
  type QueueProducer,
  type QueueProducerOptions,
} from '@wsq/core';
import { startLegacyMsgqueue, type Teardown } from '@wsq/core/testing';
import {
  linkOptions,
  recordStates,
  restartableQueue,
  startRelay,
  startScriptedPeer,
  type RestartableQueue,
} from '../helpers/link-home.js';
import { consumer, tempDir } from '../helpers/queue.js';

function producer(t: Teardown, target: { url: string; ca: Buffer }, over: Partial<QueueProducerOptions> = {}) {
  const states = recordStates();
  const p = createQueueProducer({
    ...linkOptions(target),
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

/** The whole journal, read by a consumer of its own. */
async function journal(t: Teardown, q: RestartableQueue, count: number) {
  const { c } = await consumer(t, q.current, `reader-${Math.random().toString(36).slice(2)}`, count + 1);
  const msgs = await c.receive(count);
  t.teardown(() => c.ws.terminate());
  return msgs;
}

t.test('appends of one turn leave in few frames and resolve with their seqs in order', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  const { p, states } = producer(t, relay);
  await states.when('up');
  t.same(await Promise.all(appendMany(p, 100)), range(1, 100));
  t.equal(relay.count('append'), 1, 'one append frame for 100 messages');
  const msgs = await journal(t, q, 100);
  t.same(
    msgs.map((m) => m.data),
    range(0, 99).map((i) => JSON.stringify(`m${i}`)),
  );
  t.equal(msgs[5]!.ts, 1005, 'ts travels with the message');
  t.equal(p.outboxDepth, 0);

  const small = producer(t, relay, { maxBatchMessages: 10 }).p;
  t.same(await Promise.all(appendMany(small, 95)), range(101, 195));
  t.equal(relay.count('append'), 1 + 10, '95 messages in frames of at most 10');
});

t.test(
  'lingerMs: appends of several turns wait for the timer and leave in one frame; a full batch never waits',
  async (t) => {
    const q = await restartableQueue(t);
    const relay = await startRelay(t, q);
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    const eager = producer(t, relay);
    await eager.states.when('up');
    const before = relay.count('append');
    const one: Promise<number>[] = [];
    for (let i = 0; i < 5; i++) {
      one.push(...appendMany(eager.p, 1, i));
      await nextTurn();
    }
    await Promise.all(one);
    t.equal(relay.count('append') - before, 5, 'without a linger: one frame per turn');

    const lingering = producer(t, relay, { lingerMs: 60 });
    await lingering.states.when('up');
    const start = performance.now();
    const from = relay.count('append');
    const five: Promise<number>[] = [];
    for (let i = 0; i < 5; i++) {
      five.push(...appendMany(lingering.p, 1, i));
      await nextTurn();
    }
    t.equal(relay.count('append'), from, 'nothing sent while the linger runs');
    await Promise.all(five);
    t.ok(performance.now() - start >= 55, 'sent once the linger timer fired');
    t.equal(relay.count('append') - from, 1, 'five turns, one frame');

    // A whole batch goes at the end of its turn even with a long linger; the rest waits.
    const full = producer(t, relay, { lingerMs: 60_000, maxBatchMessages: 10 });
    await full.states.when('up');
    const all = appendMany(full.p, 25);
    for (const late of all.slice(20)) late.catch(() => undefined);
    await Promise.all(all.slice(0, 20));
    t.equal(full.p.outboxDepth, 5, 'the five past the full batches linger');
  },
);

t.test('appends made before the link is up wait in the outbox and go out once it is', async (t) => {
  const q = await restartableQueue(t);
  const { p } = producer(t, q);
  const pending = appendMany(p, 3);
  t.equal(p.outboxDepth, 3);
  t.same(await Promise.all(pending), [1, 2, 3]);
});

t.test('at most maxInflightBatches append frames are unanswered', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  relay.holdAppends = true;
  const { p } = producer(t, relay, { maxBatchMessages: 2, maxInflightBatches: 3 });
  let maxHeld = 0;
  const all = appendMany(p, 20);
  // Pass frames on only in groups of three: a producer that sends a fourth early is caught.
  let released = 0;
  while (released < 10) {
    await relay.waitFor(() => relay.held >= 3 || relay.held + released === 10);
    maxHeld = Math.max(maxHeld, relay.held);
    released += relay.held;
    relay.release({ keepHolding: true });
  }
  t.same(await Promise.all(all), range(1, 20));
  t.equal(relay.count('append'), 10);
  t.equal(maxHeld, 3, 'never more than 3 frames in flight, and the limit was reached');
});

t.test('a full outbox refuses with UNAVAILABLE, by count and by bytes', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  relay.holdAppends = true;
  const { p, states } = producer(t, relay, { outboxMessages: 5 });
  await states.when('up');
  const held = appendMany(p, 5);
  await t.rejects(p.append({ topic: 'news', data: '1', ts: 1 }), { code: 'UNAVAILABLE' });
  t.equal(p.outboxDepth, 5);
  await relay.waitFor(() => relay.held === 1);
  relay.release();
  t.same(await Promise.all(held), range(1, 5));
  t.equal(p.outboxDepth, 0);
  t.equal(await p.append({ topic: 'news', data: '1', ts: 1 }), 6, 'room again once acked');

  const tiny = producer(t, relay, { outboxBytes: 100 }).p;
  relay.holdAppends = true;
  const first = tiny.append({ topic: 'news', data: JSON.stringify('x'.repeat(40)), ts: 1 });
  await t.rejects(tiny.append({ topic: 'news', data: JSON.stringify('y'.repeat(40)), ts: 1 }), { code: 'UNAVAILABLE' });
  await relay.waitFor(() => relay.held === 1);
  relay.release();
  t.equal(await first, 7);
});

t.test('a link that drops before the acks leave: every message journaled exactly once, in order', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  relay.holdAppends = true;
  const { p, states } = producer(t, relay, { maxBatchMessages: 10 });
  await states.when('up');
  const first = appendMany(p, 30);
  await relay.waitFor(() => relay.held === 3);
  // The queue writes the first 30, but the link drops before its acks reach the producer.
  relay.release({ loseAnswers: true });
  await relay.waitFor(() => relay.replies.filter((r) => r.op === 'appended').length === 3);
  const down = states.next('down');
  relay.cut();
  await down;
  const second = appendMany(p, 20, 30);
  t.equal(p.outboxDepth, 50, 'everything waits while the queue is away');
  t.same(await Promise.all([...first, ...second]), range(1, 50));
  t.same(
    (await journal(t, q, 50)).map((m) => m.data),
    range(0, 49).map((i) => JSON.stringify(`m${i}`)),
  );
  t.equal(await q.metric('wsq_queue_last_seq'), 50, 'no duplicates: re-sends were deduped by pid');
  t.equal(await q.metric('wsq_queue_deduplicated_total'), 30);
  t.equal(p.state, 'up');
});

t.test('a queue that restarts mid-stream gets every message, acked ones kept', async (t) => {
  const q = await restartableQueue(t, { fsync: 'always' });
  const { p, states } = producer(t, q);
  await states.when('up');
  t.same(await Promise.all(appendMany(p, 10)), range(1, 10));
  const down = states.next('down');
  await q.stop();
  await down;
  const later = appendMany(p, 10, 10);
  await q.restart();
  t.same(await Promise.all(later), range(11, 20));
  t.same(
    (await journal(t, q, 20)).map((m) => m.data),
    range(0, 19).map((i) => JSON.stringify(`m${i}`)),
  );
});

t.test("the caller's pid is kept, so the queue dedupes a repeat", async (t) => {
  const q = await restartableQueue(t);
  const { p } = producer(t, q);
  const a = await p.append({ topic: 'news', data: '1', ts: 1, pid: 'alice\u0000r1' });
  const b = await p.append({ topic: 'news', data: '1', ts: 1, pid: 'alice\u0000r1' });
  t.equal(a, b);
  t.equal(await q.metric('wsq_queue_last_seq'), 1);
});

t.test('an error reply rejects its batch with that code', async (t) => {
  const usersFile = join(await tempDir(t), 'users.json');
  writeUsersFile(usersFile, {
    version: 1,
    users: { hello: { password: await hashPassword('test'), publish: ['chat.>'], subscribe: ['>'] } },
  });
  const q = await restartableQueue(t, { users: usersFile, demo: false });
  const { p, states } = producer(t, q);
  await states.when('up');
  const refused = p.append({ topic: 'news', data: '1', ts: 1 });
  await t.rejects(refused, new ProtocolError('FORBIDDEN', ''));
  await t.rejects(refused, { code: 'FORBIDDEN' });
  t.equal(p.outboxDepth, 0);
  t.equal(await p.append({ topic: 'chat.x', data: '2', ts: 2 }), 1, 'the link stays up for the next batch');
});

t.test('UNAVAILABLE from the queue keeps the batch and sends it again after a reconnect', async (t) => {
  // A msgqueue answers UNAVAILABLE when its journal cannot write for a moment; this peer does so once.
  let appends = 0;
  const peer = await startScriptedPeer(t, (req, reply) => {
    if (req.op !== 'append') return;
    if (++appends === 1) reply({ op: 'error', ref: req.ref, code: 'UNAVAILABLE', message: 'journal busy' });
    else reply({ op: 'appended', ref: req.ref, seqs: req.msgs.map((_, i) => i + 1) });
  });
  const { p, states } = producer(t, peer);
  await states.when('up');
  t.equal(await p.append({ topic: 'news', data: '2', ts: 2 }), 1, 'kept, and taken after the reconnect');
  t.equal(appends, 2);
  t.equal(peer.accepted, 2, 'the producer reconnected');
});

t.test('an appended answer that does not match its batch drops the link; the batch goes again', async (t) => {
  let appends = 0;
  const peer = await startScriptedPeer(t, (req, reply) => {
    if (req.op !== 'append') return;
    const seqs = req.msgs.map((_, i) => i + 1);
    reply({ op: 'appended', ref: req.ref, seqs: ++appends === 1 ? seqs.slice(1) : seqs });
  });
  const { p, states } = producer(t, peer);
  await states.when('up');
  const down = states.next('down');
  const both = Promise.all([p.append({ topic: 'a', data: '1', ts: 1 }), p.append({ topic: 'a', data: '2', ts: 1 })]);
  t.equal(await down, 'appended reply does not match its batch');
  t.same(await both, [1, 2]);
});

t.test('close rejects what waits, refuses new appends and leaves the queue alone', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  relay.holdAppends = true;
  const { p, states } = producer(t, relay);
  await states.when('up');
  const waiting = p.append({ topic: 'news', data: '1', ts: 1 });
  await relay.waitFor(() => relay.held === 1);
  const rejected = t.rejects(waiting, { code: 'UNAVAILABLE' });
  await p.close();
  await rejected;
  await t.rejects(p.append({ topic: 'news', data: '1', ts: 1 }), { code: 'UNAVAILABLE' });
  t.equal(p.state, 'closed');
  t.equal(p.outboxDepth, 0);
  await relay.waitFor(() => relay.connections === 0);
  await p.close(); // idempotent
});

t.test('legacy fallback: a ws-go queue gets one {Topic,Content} frame per message', async (t) => {
  const goQueue = await startLegacyMsgqueue(t);
  const { p, states } = producer(t, goQueue);
  await states.when('up');
  const seqs = await Promise.all([
    p.append({ topic: 'news', data: '"hello"', ts: 1 }),
    p.append({ topic: 'news', data: '{"a":1}', ts: 2 }),
    p.append({ topic: 'sport', data: '3', ts: 3 }),
  ]);
  t.same(seqs, [1, 2, 3], 'a local counter stands in for seqs');
  await goQueue.waitFor(() => goQueue.received.length === 3);
  t.same(
    goQueue.received.map((m) => [m.topic, m.data]),
    [
      ['news', '"hello"'],
      ['news', JSON.stringify('{"a":1}')],
      ['sport', '"3"'],
    ],
    'string data as its value, other JSON as its text, one frame per message',
  );
});

t.test('onDepth reports the outbox after each append and once per settled batch', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  relay.holdAppends = true;
  const seen: [number, number][] = [];
  const { p, states } = producer(t, relay, { onDepth: (depth, bytes) => seen.push([depth, bytes]) });
  await states.when('up');
  const pending = appendMany(p, 3);
  t.same(
    seen.map(([d]) => d),
    [1, 2, 3],
    'one call per append, depth growing',
  );
  t.ok(seen[2]![1] > seen[0]![1], 'bytes grow with depth');
  await relay.waitFor(() => relay.held === 1);
  relay.release();
  await Promise.all(pending);
  t.same(seen.slice(3), [[0, 0]], 'one call when the batch of 3 settled');
  const full = producer(t, relay, { outboxMessages: 1 }).p;
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
  const q = await restartableQueue(t);
  const { p, states } = producer(t, q);
  await states.when('up');
  const done = () => undefined;
  t.equal(p.offer({ topic: '', data: '0', ts: 1 }, done, undefined)?.code, 'BAD_TOPIC', 'as the very first offer');
  t.equal(p.offer({ topic: 'news', data: '1', ts: 1 }, done, undefined), undefined);
  t.equal(p.offer({ topic: 'x'.repeat(256), data: '2', ts: 1 }, done, undefined)?.code, 'BAD_TOPIC');
  t.equal(p.offer({ topic: 'né', data: '3', ts: 1 }, done, undefined)?.code, 'BAD_TOPIC', 'not ASCII');
  t.equal(p.offer({ topic: 'news', data: '4', ts: 1 }, done, undefined), undefined);
  t.same(
    (await journal(t, q, 2)).map((m) => m.data),
    ['1', '4'],
  );
});

t.test('offer: one callback per message with its ctx; a refusal comes back at once instead', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  relay.holdAppends = true;
  const journaled: number[] = [];
  const calls: [string, string | undefined, number][] = [];
  const { p, states } = producer(t, relay, {
    outboxMessages: 2,
    onJournaled: (at) => journaled.push(at),
  });
  await states.when('up');
  let bothSettled!: () => void;
  const settled = new Promise<void>((resolve) => (bothSettled = resolve));
  const done = (ctx: string, err: ProtocolError | undefined, seq: number) => {
    if (calls.push([ctx, err?.code, seq]) === 2) bothSettled();
  };
  const before = performance.now();
  t.equal(p.offer({ topic: 'news', data: '1', ts: 1 }, done, 'a'), undefined);
  t.equal(p.offer({ topic: 'news', data: '2', ts: 2 }, done, 'b'), undefined);
  const refused = p.offer({ topic: 'news', data: '3', ts: 3 }, done, 'c');
  t.equal(refused?.code, 'UNAVAILABLE', 'the full outbox answers at once');
  t.same(calls, [], 'nothing settles synchronously');
  await relay.waitFor(() => relay.held === 1);
  relay.release();
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
