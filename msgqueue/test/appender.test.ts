import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createMetrics } from '@wsq/core';
import { createAppender } from '../src/dedupe/appender.js';
import { createDedupeIndex } from '../src/dedupe/dedupe.js';
import { JOURNAL_DEFAULTS, openJournal, type AppendInput } from '../src/journal/journal.js';
import { createQueueMetrics } from '../src/queue-metrics.js';
import { gen } from './helpers/queue.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A real journal and dedupe index behind an appender. */
async function setup(t: Teardown, windowMs = 120_000) {
  const dir = await mkdtemp(join(tmpdir(), 'wsq-appender-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const journal = await openJournal({ ...JOURNAL_DEFAULTS, fsync: 'never', retainMs: 0, dir });
  t.teardown(() => journal.close());
  const dedupe = createDedupeIndex({ windowMs });
  const metrics = createQueueMetrics(createMetrics('msgqueue', { defaultMetrics: false }), {
    firstSeq: () => journal.firstSeq,
    lastSeq: () => journal.lastSeq,
    logBytes: () => journal.retainedBytes,
    cursors: () => [],
  });
  const appender = createAppender({ journal, dedupe, metrics, onAppended: () => undefined });
  return { journal, appender, dedupe };
}

function items(producer: string, from: number, to: number): AppendInput[] {
  const out: AppendInput[] = [];
  for (let c = from; c < to; c++) out.push({ topic: 't', data: String(c), ts: 1, pid: gen(producer, c) });
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k);
}

t.test('a run of generated pids is journaled once; a retry of any part gets the original seqs', async (t) => {
  const { journal, appender } = await setup(t);
  t.same(await appender.append(items('a', 0, 100)), range(1, 101));
  // Overlapping the end of the first run and going past it: only 100..119 are new.
  t.same(await appender.append(items('a', 90, 120)), [...range(91, 101), ...range(101, 121)]);
  t.same(await appender.append(items('a', 50, 51)), [51]);
  t.equal(journal.lastSeq, 120);
  t.equal(appender.pendingIds, 0);
});

t.test('generated pids in flight: a retry on another frame waits for the original seqs', async (t) => {
  const { journal, appender } = await setup(t);
  const first = appender.append(items('a', 0, 50));
  t.equal(appender.pendingIds, 50);
  const retry = appender.append([...items('a', 40, 60), ...items('b', 0, 5)]);
  const [a, b] = await Promise.all([first, retry]);
  t.same(a, range(1, 51));
  t.same(b, [...range(41, 51), ...range(51, 61), ...range(61, 66)]);
  t.equal(journal.lastSeq, 65);
  t.same(
    (await journal.read(1, 100, 1 << 20)).map((m) => m.data),
    [...range(0, 60), ...range(0, 5)].map(String),
  );
  t.equal(appender.pendingIds, 0);
});

t.test('generated pids repeated or out of order inside one frame', async (t) => {
  const { journal, appender } = await setup(t);
  const frame = [
    ...items('a', 0, 3),
    ...items('a', 1, 2),
    ...items('a', 10, 12),
    ...items('a', 5, 6),
    ...items('a', 11, 13),
  ];
  // fresh: 0 1 2 | 1 repeats | 10 11 | 5 | 11 repeats, 12
  t.same(await appender.append(frame), [1, 2, 3, 2, 4, 5, 6, 5, 7]);
  t.equal(journal.lastSeq, 7);
  // Known, new and known again within one run of counters 0..12.
  t.same(await appender.append(items('a', 0, 13)), [1, 2, 3, 8, 9, 6, 10, 11, 12, 13, 4, 5, 7]);
  t.equal(journal.lastSeq, 13);
});

t.test('without a dedupe window, in-flight runs still catch a retry', async (t) => {
  const { journal, appender } = await setup(t, 0);
  const [a, b] = await Promise.all([appender.append(items('a', 0, 10)), appender.append(items('a', 5, 15))]);
  t.same(a, range(1, 11));
  t.same(b, [...range(6, 11), ...range(11, 16)]);
  t.equal(journal.lastSeq, 15);
  t.same(await appender.append(items('a', 0, 1)), [16], 'once written, without a window it is new again');
});

t.test('generated pids mixed with client ids and messages without pid', async (t) => {
  const { journal, appender } = await setup(t);
  const frame: AppendInput[] = [
    ...items('a', 0, 2),
    { topic: 't', data: 'x', ts: 1 },
    { topic: 't', data: 'c1', ts: 1, pid: 'user\0c1' },
    ...items('a', 2, 4),
    { topic: 't', data: 'c1 again', ts: 1, pid: 'user\0c1' },
  ];
  t.same(await appender.append(frame), [1, 2, 3, 4, 5, 6, 4]);
  t.same(await appender.append([...items('a', 3, 5), { topic: 't', data: 'c1', ts: 1, pid: 'user\0c1' }]), [6, 7, 4]);
  t.equal(journal.lastSeq, 7);
});

/** The same messages as `items`, numbered the way the binary link carries them: counters of `producer`. */
function counted(from: number, to: number): AppendInput[] {
  const out: AppendInput[] = [];
  for (let c = from; c < to; c++) out.push({ topic: 't', data: String(c), ts: 1, counter: c });
  return out;
}
const P = 'a'.padEnd(12, 'x');

t.test('counters dedupe like the generated pids they stand for, and are journaled as those pids', async (t) => {
  const { journal, appender } = await setup(t);
  t.same(await appender.append(counted(0, 100), P), range(1, 101));
  t.same(await appender.append(counted(90, 120), P), [...range(91, 101), ...range(101, 121)], 'a retry past the end');
  t.same(await appender.append(items('a', 50, 52)), [51, 52], 'the spelled-out pids are the same messages');
  t.same(await appender.append(counted(0, 2), 'b'.padEnd(12, 'x')), [121, 122], "another producer's counters are new");
  t.equal(journal.lastSeq, 122);
  t.same(
    (await journal.read(119, 2, 1 << 20)).map((m) => m.pid),
    [gen('a', 118), gen('a', 119)],
    'the journal holds the pid a counter stands for',
  );
  t.same(await appender.append(items('c', 0, 3)), [123, 124, 125]);
  t.same(await appender.append(counted(1, 4), 'c'.padEnd(12, 'x')), [124, 125, 126], 'and the other way round');
  t.equal(appender.pendingIds, 0);
});

t.test('counters in flight, repeated or out of order inside one frame', async (t) => {
  const { journal, appender } = await setup(t);
  const [a, b] = await Promise.all([appender.append(counted(0, 50), P), appender.append(counted(40, 60), P)]);
  t.same(a, range(1, 51));
  t.same(b, [...range(41, 51), ...range(51, 61)], 'a retry on another frame waits for the original seqs');
  const frame = [...counted(100, 103), ...counted(101, 102), ...counted(110, 112), ...counted(105, 106)];
  t.same(await appender.append(frame, P), [61, 62, 63, 62, 64, 65, 66]);
  t.equal(journal.lastSeq, 66);
  t.equal(appender.pendingIds, 0);
});

t.test('a counter without its producer, or with a pid as well, is refused', async (t) => {
  const { journal, appender } = await setup(t);
  await t.rejects(appender.append(counted(0, 1)), { code: 'INVALID_ARGUMENT' });
  await t.rejects(journal.append([{ topic: 't', data: '1', ts: 1, counter: 1, pid: 'p' }], P), {
    code: 'INVALID_ARGUMENT',
  });
  await t.rejects(journal.append(counted(0, 1), 'short'), { code: 'INVALID_ARGUMENT' });
  await t.rejects(journal.append([{ topic: 't', data: '1', ts: 1, counter: 1.5 }], P), { code: 'INVALID_ARGUMENT' });
  t.equal(journal.lastSeq, 0, 'nothing journaled');
});

t.test('a failed append releases its pids: a retry is appended', async (t) => {
  const { journal, appender } = await setup(t);
  await journal.close();
  await t.rejects(appender.append(items('a', 0, 3)), { code: 'JOURNAL_CLOSED' });
  t.equal(appender.pendingIds, 0);
});
