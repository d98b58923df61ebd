/**
 * The embedded home's consumer against a real journal in a temp dir: a durable cursor read
 * from the tail, woken by appends, within its window; ack moves the cursor; a restart resumes
 * after it; retention gaps are counted; a newer consumer of the name replaces it; replay()
 * is the link's range replay.
 */
import type { ConsumerHooks, LinkState, QueueConsumer, QueueMessage } from '@wsq/core';
import t from 'tap';
import { createEmbeddedConsumer } from '../src/embedded/consumer.js';
import { embeddedQueueHome } from '../src/embedded/home.js';
import type { QueueStore } from '../src/store.js';
import { openTestStore, type TestStore } from './helpers/store.js';

/** A started consumer and what it was handed, with a wait for the n-th message. */
function consume(
  store: QueueStore,
  s: TestStore,
  over: Partial<ConsumerHooks> = {},
): { c: QueueConsumer; got: QueueMessage[]; states: LinkState[]; until(n: number): Promise<void> } {
  const got: QueueMessage[] = [];
  const states: LinkState[] = [];
  const waiters: (() => void)[] = [];
  const c = embeddedQueueHome(store, s.logs.log).consumer({
    name: 'sub',
    window: 1000,
    onState: (st) => states.push(st),
    ...over,
  });
  c.start((batch) => {
    got.push(...batch);
    for (const w of waiters.splice(0)) w();
  });
  const until = async (n: number): Promise<void> => {
    while (got.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { c, got, states, until };
}

async function append(store: QueueStore, count: number, topic = 't.a', from = 0): Promise<number[]> {
  return store.appender.append(
    Array.from({ length: count }, (_, i) => ({ topic, data: String(from + i), ts: 1000 + i })),
  );
}

t.test('streams the journal from the cursor, live, within the window; ack moves the cursor', async (t) => {
  const s = await openTestStore(t);
  await append(s.store, 5);
  const { c, got, states, until } = consume(s.store, s, { window: 3 });
  t.equal(c.state, 'up');
  t.same(states, ['up']);
  await until(3);
  t.equal(got.length, 3, 'no more than the window unacknowledged');
  t.equal(c.lastSeq, 5, 'lastSeq is the head when it attached');
  c.ack(2);
  t.equal(s.store.cursors.get('sub'), 2, 'the cursor moved');
  await until(5);
  t.same(
    got.map((m) => m.seq),
    [1, 2, 3, 4, 5],
  );
  c.ack(5);
  await append(s.store, 2, 't.b', 5); // wakes it through the hub
  await until(7);
  t.same(
    got.slice(5).map((m) => [m.seq, m.topic, m.data]),
    [
      [6, 't.b', '5'],
      [7, 't.b', '6'],
    ],
  );
  t.equal(c.lastSeq, 7);
  c.ack(100); // beyond what was handed out: only as far as that
  t.equal(s.store.cursors.get('sub'), 7);
  c.ack(3); // stale
  t.equal(s.store.cursors.get('sub'), 7);
  t.throws(() => c.start(() => undefined), 'start once');
  await c.close();
  t.equal(c.state, 'closed');
  c.ack(8); // after close: nothing
  t.equal(s.store.cursors.get('sub'), 7);
});

t.test('a restart resumes after the durable cursor; unacknowledged messages come again', async (t) => {
  const s = await openTestStore(t);
  await append(s.store, 4);
  const first = consume(s.store, s);
  await first.until(4);
  first.c.ack(2);
  await first.c.close();
  await s.store.close();
  const store = await s.reopen();
  const again = consume(store, s);
  await again.until(2);
  t.same(
    again.got.map((m) => m.seq),
    [3, 4],
  );
});

t.test('messages retention deleted before they were read are skipped, counted and logged', async (t) => {
  const s = await openTestStore(t, { segmentBytes: 4096, retainMessages: 10, retainBytes: 0, retainMs: 0 });
  const big = 'x'.repeat(500);
  const data = (i: number): string => JSON.stringify(`${i}${big}`);
  // A known consumer (cursor 1) that was away while 60 messages came and most went.
  s.store.cursors.set('sub', 1);
  for (let i = 0; i < 60; i++) await s.store.appender.append([{ topic: 't', data: data(i), ts: i }]);
  await s.store.journal.applyRetention();
  const first = s.store.journal.firstSeq;
  t.ok(first > 2, `retention cut the head (first seq ${first})`);
  const { got, until } = consume(s.store, s);
  await until(61 - first);
  t.equal(got[0]!.seq, first, 'resumes at the oldest retained');
  const text = await s.metrics.registry.metrics();
  t.match(text, /wsq_dropped_messages_total\{reason="retention",wsq_service="msgqueue"\} [1-9]/);
  t.ok(s.logs.lines().some((l) => l.msg === 'retention deleted messages this consumer had not acknowledged'));
});

t.test('a consumer behind retention while attached skips the gap', async (t) => {
  const s = await openTestStore(t, { segmentBytes: 4096, retainMessages: 10, retainBytes: 0, retainMs: 0 });
  const big = JSON.stringify('y'.repeat(500));
  await s.store.appender.append([{ topic: 't', data: big, ts: 1 }]);
  const { c, got, until } = consume(s.store, s, { window: 1 });
  await until(1); // holds seq 1 unacknowledged: no credit
  for (let i = 0; i < 60; i++) await s.store.appender.append([{ topic: 't', data: big, ts: i }]);
  await s.store.journal.applyRetention();
  const first = s.store.journal.firstSeq;
  c.ack(1);
  await until(2);
  t.equal(got[1]!.seq, first, 'the next message is the oldest retained');
  t.ok(s.logs.lines().some((l) => l.msg === 'retention deleted messages before this consumer read them'));
});

t.test('a newer consumer of the same name replaces the older one', async (t) => {
  const s = await openTestStore(t);
  const older = consume(s.store, s);
  const newer = consume(s.store, s);
  t.equal(older.c.state, 'down');
  t.same(older.states, ['up', 'down']);
  await append(s.store, 1);
  await newer.until(1);
  t.equal(older.got.length, 0, 'the replaced one gets nothing more');
  t.match(
    await s.metrics.registry.metrics(),
    /wsq_closes_total\{reason="consumer_replaced",wsq_service="msgqueue"\} 1/,
  );
});

t.test('past --max-consumers a new name cannot consume', async (t) => {
  const s = await openTestStore(t, { maxConsumers: 1 });
  s.store.cursors.set('other', 0);
  const { c, states } = consume(s.store, s, { name: 'sub' });
  t.equal(c.state, 'down');
  t.same(states, ['down']);
});

t.test('on a closed store the consumer is closed', async (t) => {
  const s = await openTestStore(t);
  const attached = consume(s.store, s);
  t.equal(attached.c.state, 'up');
  await s.store.close();
  t.equal(attached.c.state, 'closed', 'closed with the journal');
  const { c } = consume(s.store, s);
  t.equal(c.state, 'closed');
  await t.rejects(c.replay(1, 10, undefined, 10), { code: 'UNAVAILABLE' });
});

t.test('replay: a range by pattern, bounded by limit, with firstSeq, more and next', async (t) => {
  const s = await openTestStore(t, { replayScanLimit: 16 });
  await append(s.store, 10, 'news.eu');
  await append(s.store, 30, 'noise', 10);
  await append(s.store, 2, 'news.us', 40);
  const c = createEmbeddedConsumer(
    s.store,
    { name: 'r', window: 10 },
    { maxPendingReplays: 1, retryMinMs: 1, retryMaxMs: 1 },
    s.logs.log,
  );
  const all = await c.replay(1, 42, undefined, 1000);
  t.equal(all.messages.length, 16, 'cut by the scan budget');
  t.same([all.firstSeq, all.more, all.next], [1, true, 17]);
  const some = await c.replay(1, 42, 'news.*', 3);
  t.same(
    some.messages.map((m) => [m.seq, m.topic]),
    [
      [1, 'news.eu'],
      [2, 'news.eu'],
      [3, 'news.eu'],
    ],
  );
  t.same([some.more, some.next], [true, 4]);
  t.same(Object.keys(some.messages[0]!).sort(), ['data', 'seq', 'topic', 'ts'], 'QueueMessage-shaped');
  const none = await c.replay(17, 40, 'news.*', 10);
  t.same(
    [none.messages.length, none.more, none.next],
    [0, true, 33],
    'a page that matched nothing says where to go on',
  );
  const tail = await c.replay(33, 42, 'news.*', 10);
  t.same(
    tail.messages.map((m) => m.seq),
    [41, 42],
  );
  t.equal(tail.more, false);
  const racing = c.replay(1, 42, undefined, 5);
  await t.rejects(c.replay(1, 42, undefined, 5), { code: 'LIMIT_EXCEEDED' }, 'past maxPendingReplays');
  await racing;
  await c.close();
  await t.rejects(c.replay(1, 42, undefined, 5), { code: 'UNAVAILABLE' });
});
