/**
 * The embedded home's producer against a real journal in a temp dir: acks (done) only after
 * the append resolved, one append per turn, dedupe by pid, the bounded outbox, refusals, the
 * retry of a batch the journal refused for now, and close().
 */
import { ProtocolError, type AppendDone, type LinkState, type ProducerHooks, type QueueProducer } from '@wsq/core';
import t from 'tap';
import { JournalError } from '../src/journal/journal.js';
import { embeddedQueueHome } from '../src/embedded/home.js';
import { createEmbeddedProducer } from '../src/embedded/producer.js';
import { openTestStore, type TestStore } from './helpers/store.js';

interface Outcome {
  err: ProtocolError | undefined;
  seq: number;
}

function hooks(over: Partial<ProducerHooks> = {}): ProducerHooks & { states: LinkState[]; depths: number[] } {
  const states: LinkState[] = [];
  const depths: number[] = [];
  return {
    outboxMessages: 1000,
    outboxBytes: 1024 * 1024,
    onState: (s) => states.push(s),
    onDepth: (d) => depths.push(d),
    ...over,
    states,
    depths,
  };
}

/** Offers and resolves with how it ended (the refusal at once, or what done said). */
function offer(p: QueueProducer, topic: string, data: string, pid?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const done: AppendDone<undefined> = (_ctx, err, seq) => resolve({ err, seq });
    const refused = p.offer({ topic, data, ts: Date.now(), pid }, done, undefined);
    if (refused) resolve({ err: refused, seq: 0 });
  });
}

function producerOf(s: TestStore, h = hooks()): QueueProducer {
  return embeddedQueueHome(s.store, s.logs.log).producer(h);
}

t.test('acks after the journal took the message, one append per turn, seqs in offer order', async (t) => {
  const s = await openTestStore(t);
  const h = hooks();
  const p = producerOf(s, h);
  t.equal(p.state, 'up', 'up while the journal is open');
  t.same(h.states, ['up'], 'told at once: readiness needs no link');
  let appends = 0;
  const real = s.store.appender.append.bind(s.store.appender);
  s.store.appender.append = (items, producer) => {
    appends++;
    return real(items, producer);
  };
  const journaled: number[] = [];
  const outcomes = await Promise.all(
    [0, 1, 2, 3, 4].map((i) =>
      offer(p, 'a.b', JSON.stringify(i)).then((o) => {
        journaled.push(s.store.journal.lastSeq);
        return o;
      }),
    ),
  );
  t.equal(appends, 1, 'one append for the turn');
  t.same(
    outcomes.map((o) => o.seq),
    [1, 2, 3, 4, 5],
  );
  t.ok(
    outcomes.every((o, i) => o.err === undefined && journaled[i]! >= o.seq),
    'done only once journaled',
  );
  t.equal(p.outboxDepth, 0);
  t.equal(h.depths.at(-1), 0, 'depth told back to 0');
  t.equal(await p.append({ topic: 'a.b', data: '"x"', ts: 1 }), 6, 'append() resolves with the seq');
  const stored = await s.store.journal.read(1, 10, 1 << 20);
  t.same(
    stored.map((m) => m.data),
    ['0', '1', '2', '3', '4', '"x"'],
  );
  await p.close();
  t.equal(p.state, 'closed');
});

t.test('lingerMs: offers of several turns go to the journal in one append', async (t) => {
  const s = await openTestStore(t);
  const p = producerOf(s, hooks({ lingerMs: 40 }));
  let appends = 0;
  const real = s.store.appender.append.bind(s.store.appender);
  s.store.appender.append = (items, producer) => {
    appends++;
    return real(items, producer);
  };
  const start = performance.now();
  const outcomes: Promise<Outcome>[] = [];
  for (let i = 0; i < 3; i++) {
    outcomes.push(offer(p, 'a.b', JSON.stringify(i)));
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(appends, 0, 'waiting for the linger');
  t.same(
    (await Promise.all(outcomes)).map((o) => o.seq),
    [1, 2, 3],
  );
  t.equal(appends, 1, 'three turns, one append');
  t.ok(performance.now() - start >= 35);
  await p.close();
});

t.test('with --fsync always, done comes after the fsync', async (t) => {
  const s = await openTestStore(t, { fsync: 'always' });
  const p = producerOf(s);
  const before = s.store.journal.stats.fsyncs;
  let fsyncsAtDone = 0;
  await new Promise<void>((resolve) => {
    p.offer(
      { topic: 't', data: '1', ts: 1 },
      () => {
        fsyncsAtDone = s.store.journal.stats.fsyncs;
        resolve();
      },
      undefined,
    );
  });
  t.ok(fsyncsAtDone > before, 'fsynced before the ack');
});

t.test('dedupe by pid: the same id gets the original seq, once in the journal', async (t) => {
  const s = await openTestStore(t);
  const p = producerOf(s);
  const first = await offer(p, 'd', '"a"', 'id-1');
  const again = await offer(p, 'd', '"b"', 'id-1');
  const both = await Promise.all([offer(p, 'd', '"c"', 'id-2'), offer(p, 'd', '"c"', 'id-2')]);
  t.equal(again.seq, first.seq);
  t.equal(both[0].seq, both[1].seq, 'a repeat within one turn too');
  t.equal(s.store.journal.lastSeq, 2, 'two messages journaled');
  // The dedupe index is rebuilt from the journal: a restart keeps the answer.
  await p.close();
  await s.store.close();
  const reopened = await s.reopen();
  const p2 = embeddedQueueHome(reopened, s.logs.log).producer(hooks());
  t.equal((await offer(p2, 'd', '"z"', 'id-1')).seq, first.seq, 'after a restart');
  await p2.close();
});

t.test('the outbox is bounded: UNAVAILABLE past it, room again once journaled', async (t) => {
  const s = await openTestStore(t);
  const p = producerOf(s, hooks({ outboxMessages: 2, outboxBytes: 1024 }));
  const a = offer(p, 't', '1');
  const b = offer(p, 't', '2');
  const c = await offer(p, 't', '3');
  t.match(c.err, { code: 'UNAVAILABLE' }, 'by messages');
  t.equal(p.outboxDepth, 2);
  await Promise.all([a, b]);
  t.equal((await offer(p, 't', '4')).err, undefined, 'room again');
  t.match((await offer(p, 't', JSON.stringify('x'.repeat(2000)))).err, { code: 'UNAVAILABLE' }, 'by bytes');
  t.ok(s.logs.lines().some((l) => l.msg === 'queue outbox has room again'));
});

t.test('refusals: a bad topic at once, a record too large after the append, closed', async (t) => {
  const s = await openTestStore(t);
  const p = producerOf(s);
  t.match((await offer(p, 'bad topic', '1')).err, { code: 'BAD_TOPIC' });
  t.match((await offer(p, 'ok', '1', 'p'.repeat(70_000))).err, { code: 'TOO_LARGE' });
  t.equal(p.outboxDepth, 0, 'a refused batch leaves the outbox');
  const pending = offer(p, 'ok', '2');
  await p.close();
  t.match((await pending).err, { code: 'UNAVAILABLE' }, 'waiting messages are refused by close');
  t.match((await offer(p, 'ok', '3')).err, { code: 'UNAVAILABLE' }, 'closed');
  await t.rejects(p.append({ topic: 'ok', data: '4', ts: 1 }), { code: 'UNAVAILABLE' });
  await p.close(); // idempotent
});

t.test('a batch the journal refuses for now is retried in order; state goes down and up', async (t) => {
  const s = await openTestStore(t);
  const h = hooks();
  const p = createEmbeddedProducer(s.store, h, { retryMinMs: 1, retryMaxMs: 5 }, s.logs.log);
  const real = s.store.appender.append.bind(s.store.appender);
  let failures = 2;
  s.store.appender.append = (items, producer) =>
    failures-- > 0 ? Promise.reject(new JournalError('JOURNAL_OVERLOADED', 'busy')) : real(items, producer);
  const first = offer(p, 't', '1');
  await new Promise((resolve) => setImmediate(resolve));
  const second = offer(p, 't', '2'); // offered while the first batch waits for its retry
  const [a, b] = await Promise.all([first, second]);
  t.same([a.seq, b.seq], [1, 2], 'order kept across the retry');
  t.same(h.states, ['up', 'down', 'up']);
  t.equal(p.state, 'up');
  await p.close();
});

t.test('a producer on a closed store refuses; close() stops a pending retry', async (t) => {
  const s = await openTestStore(t);
  let down!: () => void;
  const wentDown = new Promise<void>((resolve) => (down = resolve));
  const h = hooks({ onState: (state) => state === 'down' && down() });
  const p = createEmbeddedProducer(s.store, h, { retryMinMs: 10_000, retryMaxMs: 10_000 }, s.logs.log);
  s.store.appender.append = () => Promise.reject(new JournalError('JOURNAL_IO', 'disk gone'));
  const pending = offer(p, 't', '1');
  await wentDown;
  await p.close();
  t.match((await pending).err, { code: 'UNAVAILABLE' }, 'the retried batch is refused by close');
  await s.store.close();
  const late = createEmbeddedProducer(s.store, hooks(), { retryMinMs: 1, retryMaxMs: 1 }, s.logs.log);
  t.equal(late.state, 'closed');
  t.match((await offer(late, 't', '1')).err, { code: 'UNAVAILABLE' });
});
