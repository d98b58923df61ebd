/**
 * The in-memory queue home keeps the queue interface's promises, so that the publisher and
 * subscriber tests built on it test them against what a real home does.
 */
import t from 'tap';
import type { LinkState, QueueMessage } from '../src/queue/queue.js';
import { createMemoryQueue } from './helpers/index.js';

const hooks = { outboxMessages: 3, outboxBytes: 1 << 20 };

t.test('producer: journaled in offer order, deduped by pid, bounded, held and refused on demand', async (t) => {
  const q = createMemoryQueue();
  const depths: number[] = [];
  const p = q.producer({ ...hooks, onDepth: (d) => depths.push(d) });
  t.same(
    await Promise.all([p.append({ topic: 'a', data: '1', ts: 1 }), p.append({ topic: 'a', data: '2', ts: 1 })]),
    [1, 2],
  );
  t.equal(await p.append({ topic: 'a', data: '1', ts: 1, pid: 'x' }), 3);
  t.equal(await p.append({ topic: 'a', data: '1', ts: 1, pid: 'x' }), 3, 'a repeated pid gets its seq');
  t.equal(q.log.length, 3);
  t.equal(depths.at(-1), 0);

  q.holdAppends = true;
  const held = [1, 2, 3].map((i) => p.append({ topic: 'a', data: String(i), ts: 1 }));
  await t.rejects(p.append({ topic: 'a', data: '4', ts: 1 }), { code: 'UNAVAILABLE' }, 'past the outbox');
  await q.waitFor(() => q.held === 3);
  q.release();
  t.same(await Promise.all(held), [4, 5, 6]);

  q.failAppends = 'FORBIDDEN';
  await t.rejects(p.append({ topic: 'a', data: '5', ts: 1 }), { code: 'FORBIDDEN' });
  q.failAppends = undefined;
  await p.close();
  t.equal(p.state, 'closed');
  await t.rejects(p.append({ topic: 'a', data: '6', ts: 1 }), { code: 'UNAVAILABLE' });
});

t.test('down and up: appends wait, held ones go again, each is journaled once', async (t) => {
  const q = createMemoryQueue({ holdAppends: true });
  const states: LinkState[] = [];
  const p = q.producer({ ...hooks, onState: (s) => states.push(s) });
  const first = p.append({ topic: 'a', data: '1', ts: 1 });
  await q.waitFor(() => q.held === 1);
  q.down();
  t.equal(q.held, 0, 'held appends went back to their outbox');
  const second = p.append({ topic: 'a', data: '2', ts: 1 });
  q.holdAppends = false;
  q.up();
  t.same(await Promise.all([first, second]), [1, 2]);
  t.same(states, ['up', 'down', 'up']);
  t.same(
    q.log.map((m) => m.data),
    ['1', '2'],
  );
});

t.test('consumer: every message once, in order, within the window, from the durable cursor', async (t) => {
  const q = createMemoryQueue();
  for (let i = 1; i <= 5; i++) q.push('a', String(i));
  const got: QueueMessage[] = [];
  const c = q.consumer({ name: 'n', window: 2 });
  c.start((batch) => got.push(...batch));
  await q.waitFor(() => got.length === 2);
  t.equal(q.outstanding, 2, 'the window is full');
  c.ack(2);
  await q.waitFor(() => got.length === 4);
  c.ack(4);
  await c.close();
  t.equal(q.cursor('n'), 4);
  const again: QueueMessage[] = [];
  const d = q.consumer({ name: 'n', window: 10 });
  d.start((batch) => again.push(...batch));
  await q.waitFor(() => again.length === 1);
  t.same(
    again.map((m) => m.seq),
    [5],
    'a new instance resumes after the cursor',
  );
  t.equal(d.lastSeq, 5);
  await d.close();
});

t.test('consumer: replays page, see retention, wait when held, and need the queue up', async (t) => {
  const q = createMemoryQueue();
  for (const topic of ['a.1', 'b.1', 'a.2', 'a.3']) q.push(topic, '1');
  const c = q.consumer({ name: 'n', window: 10 });
  c.start(() => undefined);
  const page = await c.replay(1, 4, 'a.*', 2);
  t.same(
    { seqs: page.messages.map((m) => m.seq), more: page.more, next: page.next },
    { seqs: [1, 3], more: true, next: 4 },
  );
  q.firstSeq = 3;
  t.match(await c.replay(1, 4, undefined, 10), { firstSeq: 3, more: false, next: 5 });
  q.holdReplays = true;
  const waiting = c.replay(3, 4, undefined, 10);
  await q.waitFor(() => q.heldReplays.length === 1);
  q.answer(q.heldReplays.shift()!);
  t.equal((await waiting).messages.length, 2);
  q.down();
  await t.rejects(c.replay(1, 4, undefined, 10), { code: 'UNAVAILABLE' });
  t.equal(c.state, 'down');
  await c.close();
  t.equal(q.open, 0);
});
