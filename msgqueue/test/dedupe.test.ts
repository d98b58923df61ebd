import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { createDedupeIndex, rebuildDedupe, type DedupeJournal } from '../src/dedupe/dedupe.js';
import {
  JOURNAL_DEFAULTS,
  openJournal,
  type AppendInput,
  type Journal,
  type JournalOptions,
} from '../src/journal/journal.js';
import { counterAfterPrefix, parseGeneratedPid, type ParsedPid } from '../src/dedupe/generated-pids.js';
import { gen } from './helpers/queue.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

async function openTestJournal(t: Teardown, over: Partial<JournalOptions> = {}, dir?: string) {
  if (dir === undefined) {
    dir = await mkdtemp(join(tmpdir(), 'wsq-dedupe-'));
    const created = dir;
    t.teardown(() => rm(created, { recursive: true, force: true }));
  }
  const journal = await openJournal({ ...JOURNAL_DEFAULTS, fsync: 'never', retainMs: 0, ...over, dir });
  t.teardown(() => journal.close());
  return { journal, dir };
}

/** Counts the messages handed out, to tell a seek from a full scan. */
function countingReads(journal: Journal): DedupeJournal & { returned: number } {
  const view = {
    returned: 0,
    get firstSeq() {
      return journal.firstSeq;
    },
    get lastSeq() {
      return journal.lastSeq;
    },
    async read(from: number, max: number, maxBytes: number) {
      const got = await journal.read(from, max, maxBytes);
      view.returned += got.length;
      return got;
    },
  };
  return view;
}

t.test('a remembered pid is found with its seq', async (t) => {
  const now = 1_000_000;
  const index = createDedupeIndex({}, { now: () => now });
  t.equal(index.lookup('p1'), undefined);
  index.remember('p1', 7, now);
  t.equal(index.lookup('p1'), 7);
  t.equal(index.stats.hits, 1);
  index.remember('p1', 9, now);
  t.equal(index.lookup('p1'), 9, 'the newest seq wins');
  t.equal(index.size, 1);
});

t.test('entries expire once the window has passed', async (t) => {
  let now = 1_000_000;
  const index = createDedupeIndex({ windowMs: 1000 }, { now: () => now });
  index.remember('old', 1, now);
  now += 500;
  index.remember('new', 2, now);
  now += 500;
  t.equal(index.lookup('old'), 1, 'exactly at the window edge it is still known');
  now += 1;
  t.equal(index.lookup('old'), undefined);
  t.equal(index.lookup('new'), 2);
  t.equal(index.size, 1, 'the expired entry is gone from memory');
  t.equal(index.stats.expired, 1);
  now += 500;
  t.equal(index.lookup('new'), undefined);
  t.equal(index.size, 0);
});

t.test('the window starts when the pid is remembered, not at the message ts', async (t) => {
  let now = 1_000_000;
  const index = createDedupeIndex({ windowMs: 1000 }, { now: () => now });
  // e.g. a message that waited in a publisher outbox for a while before it was appended
  index.remember('delayed', 3, now - 5_000);
  now += 999;
  t.equal(index.lookup('delayed'), 3);
  now += 2;
  t.equal(index.lookup('delayed'), undefined);
});

t.test('past maxEntries the oldest ids are forgotten early', async (t) => {
  const now = 1_000_000;
  const index = createDedupeIndex({ maxEntries: 3 }, { now: () => now });
  for (let i = 1; i <= 5; i++) index.remember(`p${i}`, i, now);
  t.equal(index.size, 3);
  t.equal(index.stats.evictedEarly, 2);
  t.equal(index.lookup('p1'), undefined);
  t.equal(index.lookup('p2'), undefined);
  t.equal(index.lookup('p5'), 5);
});

t.test('windowMs 0 disables dedupe; bad options throw with a code', async (t) => {
  const index = createDedupeIndex({ windowMs: 0 });
  index.remember('p', 1, Date.now());
  t.equal(index.lookup('p'), undefined);
  t.equal(index.size, 0);
  t.throws(() => createDedupeIndex({ maxEntries: 0 }), { code: 'INVALID_ARGUMENT' });
  t.throws(() => createDedupeIndex({ windowMs: -1 }), { code: 'INVALID_ARGUMENT' });
});

t.test('rebuild after a restart remembers the pids inside the window', async (t) => {
  const now = 10_000_000;
  const { journal, dir } = await openTestJournal(t);
  const items: AppendInput[] = [
    { topic: 'a', data: '1', ts: now - 200_000, pid: 'too-old' },
    { topic: 'a', data: '2', ts: now - 100_000, pid: 'recent-1' },
    { topic: 'a', data: '3', ts: now - 90_000 },
    { topic: 'a', data: '4', ts: now - 1_000, pid: 'recent-2' },
  ];
  await journal.append(items);
  await journal.close();
  const reopened = (await openTestJournal(t, {}, dir)).journal;

  const index = createDedupeIndex({ windowMs: 120_000 }, { now: () => now });
  const remembered = await rebuildDedupe(reopened, index, now);
  t.equal(remembered, 2);
  t.equal(index.lookup('too-old'), undefined);
  t.equal(index.lookup('recent-1'), 2);
  t.equal(index.lookup('recent-2'), 4);
});

t.test('rebuild seeks the window start instead of reading the whole journal', async (t) => {
  const now = 10_000_000;
  const { journal, dir } = await openTestJournal(t);
  const total = 20_000;
  for (let start = 1; start <= total; start += 1000) {
    const batch = Array.from({ length: 1000 }, (_, k) => {
      const seq = start + k;
      return { topic: 't', data: String(seq), ts: now - (total - seq) * 10, pid: `p${seq}` };
    });
    await journal.append(batch);
  }
  await journal.close();
  const reopened = countingReads((await openTestJournal(t, {}, dir)).journal);
  // ts of seq s is now - (20000 - s) * 10: the 120 s window holds seqs 8000..20000.
  const index = createDedupeIndex({ windowMs: 120_000 }, { now: () => now });
  t.equal(await rebuildDedupe(reopened, index, now), total - 8000 + 1);
  t.equal(index.lookup('p7999'), undefined);
  t.equal(index.lookup('p8000'), 8000);
  t.equal(index.lookup('p20000'), 20000);
  t.ok(reopened.returned < total - 8000 + 1 + 40, `read ${reopened.returned} messages, not all ${total}`);
});

t.test('rebuild of an empty journal remembers nothing', async (t) => {
  const { journal } = await openTestJournal(t);
  const index = createDedupeIndex();
  t.equal(await rebuildDedupe(journal, index, Date.now()), 0);
  t.equal(index.size, 0);
});

t.test('generated pids: found with their seq, per producer, also out of counter order', async (t) => {
  const now = 1_000_000;
  const index = createDedupeIndex({}, { now: () => now });
  for (let c = 0; c < 100; c++) index.remember(gen('a', c), 1000 + c, now);
  index.remember(gen('b', 0), 5, now);
  // A frame refused once and sent again after a later one: counters 200.. land after 300..
  for (let c = 300; c < 310; c++) index.remember(gen('a', c), 2000 + c, now);
  for (let c = 200; c < 210; c++) index.remember(gen('a', c), 3000 + c, now);
  t.equal(index.size, 121);
  t.equal(index.lookup(gen('a', 0)), 1000);
  t.equal(index.lookup(gen('a', 99)), 1099);
  t.equal(index.lookup(gen('a', 100)), undefined);
  t.equal(index.lookup(gen('a', 205)), 3205);
  t.equal(index.lookup(gen('a', 309)), 2309);
  t.equal(index.lookup(gen('a', 310)), undefined);
  t.equal(index.lookup(gen('b', 0)), 5);
  t.equal(index.lookup(gen('b', 1)), undefined);
  t.equal(index.lookup(gen('c', 0)), undefined);
  index.remember(gen('a', 5), 9, now);
  t.equal(index.lookup(gen('a', 5)), 9, 'the newest seq wins');
  t.equal(index.size, 121);
});

t.test(
  'property: generated pids remembered in runs, out of order or again, are found with their newest seq',
  async (t) => {
    const op = fc.record({
      producer: fc.constantFrom('a', 'b'),
      // Mostly the producer's next counters, as a publisher sends them; sometimes any (a retry, a re-send).
      next: fc.boolean(),
      first: fc.nat({ max: 150 }),
      count: fc.integer({ min: 1, max: 20 }),
      // Consecutive seqs go on the previous segment; a jump (either way, whatever a caller does) starts a new one.
      seqJump: fc.oneof(fc.constant(0), fc.integer({ min: -30, max: 50 })),
      single: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const now = 1_000_000;
        const index = createDedupeIndex({}, { now: () => now });
        const model = new Map<string, number>();
        const nextCounter = new Map<string, number>();
        let seq = 1;
        for (const o of ops) {
          const first = o.next ? (nextCounter.get(o.producer) ?? 0) : o.first;
          seq = Math.max(1, seq + o.seqJump);
          if (o.single) {
            index.remember(gen(o.producer, first), seq, now);
            model.set(gen(o.producer, first), seq);
            seq++;
          } else {
            index.rememberRun(o.producer.padEnd(12, 'x'), first, o.count, seq); // gen()'s producer id
            for (let k = 0; k < o.count; k++) model.set(gen(o.producer, first + k), seq + k);
            seq += o.count;
          }
          nextCounter.set(o.producer, Math.max(nextCounter.get(o.producer) ?? 0, first + (o.single ? 1 : o.count)));
        }
        if (index.size !== model.size) return false;
        for (const producer of ['a', 'b'])
          for (let c = 0; c < 400; c++)
            if (index.lookup(gen(producer, c)) !== model.get(gen(producer, c))) return false;
        return true;
      }),
      { numRuns: 300 },
    );
    t.pass('property held');
  },
);

t.test('pids that only look generated are exact keys, never a counter of a producer', async (t) => {
  const now = 1_000_000;
  const index = createDedupeIndex({}, { now: () => now });
  index.remember(gen('a', 1), 1, now);
  const lookalikes = [
    'wsq:axxxxxxxxxxx:01', // leading zero: another spelling of counter 1
    'wsq:axxxxxxxxxxx:1 ',
    'wsq:axxxxxxxxxxx:A',
    'wsq:axxxxxxxxxx:1',
    'wsq:axxxxxxxxxxx:12345678901',
    'wsq:axxxxxxxxxxx\u00001',
  ];
  for (const pid of lookalikes) t.equal(index.lookup(pid), undefined, pid);
  lookalikes.forEach((pid, i) => index.remember(pid, 10 + i, now));
  lookalikes.forEach((pid, i) => t.equal(index.lookup(pid), 10 + i, pid));
  t.equal(index.lookup(gen('a', 1)), 1);
});

t.test('parseGeneratedPid takes only the canonical spelling, with a base64url producer', async (t) => {
  const out: ParsedPid = { producer: '', counter: 0 };
  t.ok(parseGeneratedPid('wsq:AbCd-_0123xy:1z', out));
  t.same(out, { producer: 'AbCd-_0123xy', counter: 71 });
  for (const pid of [
    'wsq:AbCd.f0123xy:1',
    'wsq:AbCd f0123xy:1',
    'wsq:AbCdé0123xy:1',
    'wsq:AbCd-_0123xy:01',
    'wsq:AbCd-_0123xy:',
  ])
    t.notOk(parseGeneratedPid(pid, out), pid);
  t.equal(counterAfterPrefix('wsq:AbCd-_0123xy:1z', 'wsq:AbCd-_0123xy:'), 71);
  t.equal(counterAfterPrefix('wsq:AbCd-_0123xy:1z', 'wsq:AbCd-_0123xz:'), -1, 'another producer');
});

t.test('generated pids expire after their window (at most a sixteenth of it later)', async (t) => {
  let now = 1_000_000;
  const windowMs = 1600;
  const index = createDedupeIndex({ windowMs }, { now: () => now });
  index.remember(gen('a', 0), 1, now);
  now += 50;
  index.remember(gen('a', 1), 2, now);
  now += windowMs;
  t.equal(index.lookup(gen('a', 0)), 1, 'kept at least the window');
  t.equal(index.lookup(gen('a', 1)), 2);
  now += windowMs / 16 + 1;
  t.equal(index.lookup(gen('a', 1)), undefined);
  t.equal(index.lookup(gen('a', 0)), undefined);
  t.equal(index.size, 0);
  t.equal(index.stats.expired, 2);
});

t.test('generated pids count towards maxEntries; the oldest go first', async (t) => {
  let now = 1_000_000;
  const index = createDedupeIndex({ windowMs: 160_000, maxEntries: 3 }, { now: () => now });
  index.remember(gen('a', 0), 1, now);
  now += 20_000; // past the run span: a new run
  index.remember('client-1', 2, now);
  index.remember(gen('a', 1), 3, now);
  index.remember('client-2', 4, now);
  t.equal(index.size, 3);
  t.equal(index.stats.evictedEarly, 1);
  t.equal(index.lookup(gen('a', 0)), undefined);
  t.equal(index.lookup(gen('a', 1)), 3);
  t.equal(index.lookup('client-1'), 2);
});

t.test('rebuild remembers generated pids', async (t) => {
  const now = 10_000_000;
  const { journal, dir } = await openTestJournal(t);
  await journal.append(Array.from({ length: 50 }, (_, c) => ({ topic: 'a', data: '1', ts: now, pid: gen('p', c) })));
  await journal.close();
  const reopened = (await openTestJournal(t, {}, dir)).journal;
  const index = createDedupeIndex({ windowMs: 120_000 }, { now: () => now });
  t.equal(await rebuildDedupe(reopened, index, now), 50);
  t.equal(index.lookup(gen('p', 0)), 1);
  t.equal(index.lookup(gen('p', 49)), 50);
});
