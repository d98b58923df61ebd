import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createMetrics } from '@wsq/core';
import { createAppender } from '../src/appender.js';
import { createDedupeIndex } from '../src/dedupe.js';
import { JOURNAL_DEFAULTS, openJournal, type AppendInput } from '../src/journal.js';
import { createQueueMetrics } from '../src/queue-metrics.js';

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
    cursors: () => [],
  });
  const appender = createAppender({ journal, dedupe, metrics, onAppended: () => undefined });
  return { journal, appender, dedupe };
}

/** A pid as core's queue producer generates it. */
function gen(producer: string, counter: number): string {
  return `wsq:${producer.padEnd(12, 'x')}:${counter.toString(36)}`;
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

t.test('a failed append releases its pids: a retry is appended', async (t) => {
  const { journal, appender } = await setup(t);
  await journal.close();
  await t.rejects(appender.append(items('a', 0, 3)), { code: 'JOURNAL_CLOSED' });
  t.equal(appender.pendingIds, 0);
});
