/**
 * The journal's time index: seqAtTime finds the first message with ts >= ms without scanning
 * the log, skipping segments by their newest ts and narrowing inside one by the sparse index.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { JOURNAL_DEFAULTS, openJournal, type AppendInput, type Journal } from '../src/journal/journal.js';
import { replayRange } from '../src/links/replay.js';

/** Each test journal's directory. */
const dirOf = new WeakMap<Journal, string>();

async function openTest(
  t: { teardown(fn: () => unknown): void },
  over: Record<string, unknown> = {},
): Promise<Journal> {
  const dir = await mkdtemp(join(tmpdir(), 'wsq-time-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const journal = await openJournal({ ...JOURNAL_DEFAULTS, fsync: 'never', retainMs: 0, ...over, dir });
  t.teardown(() => journal.close());
  dirOf.set(journal, dir);
  return journal;
}

t.test('seqAtTime: exact on ordered and unordered ts, lastSeq + 1 past the end', async (t) => {
  const journal = await openTest(t, { segmentBytes: 4096, cacheBytes: 0 });
  t.equal(await journal.seqAtTime(0), 1, 'empty journal: lastSeq + 1');
  // ts go up by 10 per message, but every 7th message is a late publisher 25 ms behind.
  const tsOf = (i: number): number => 1_000 + 10 * i - (i % 7 === 0 ? 25 : 0);
  const items: AppendInput[] = [];
  for (let i = 0; i < 3000; i++) items.push({ topic: `t.${i % 5}`, data: String(i), ts: tsOf(i) });
  await journal.append(items);
  const firstAtOrAfter = (ms: number): number => {
    const i = items.findIndex((m) => m.ts >= ms);
    return i < 0 ? journal.lastSeq + 1 : i + 1;
  };
  for (const ms of [0, 1_000, 1_001, 1_050, 1_065, 5_000, 12_345, 20_000, 30_975, 30_990, 31_000, 99_999]) {
    t.equal(await journal.seqAtTime(ms), firstAtOrAfter(ms), `ms=${ms}`);
  }
});

t.test('seqAtTime answers from the retained log only', async (t) => {
  const journal = await openTest(t, { segmentBytes: 2048, retainMessages: 500, cacheBytes: 0 });
  for (let i = 0; i < 20; i++) {
    await journal.append(
      Array.from({ length: 100 }, (_, j) => ({ topic: 'a', data: String(i * 100 + j), ts: 10 * (i * 100 + j + 1) })),
    );
  }
  await journal.applyRetention();
  t.ok(journal.firstSeq > 1000, 'retention cut the start');
  t.equal(await journal.seqAtTime(0), journal.firstSeq, 'a time before retention: the oldest retained');
  t.equal(await journal.seqAtTime(10 * 1900), 1900);
});

t.test('a date range at the end of a 1 000 000-message journal reads only the segments it needs', async (t) => {
  const journal = await openTest(t, { segmentBytes: 128 * 1024, cacheBytes: 0, retainMessages: 0, retainBytes: 0 });
  const total = 1_000_000;
  const batch = 5_000;
  const base = 1_700_000_000_000;
  for (let i = 0; i < total; i += batch) {
    const items: AppendInput[] = new Array(batch);
    for (let j = 0; j < batch; j++) items[j] = { topic: 't', data: '1', ts: base + i + j };
    await journal.append(items);
  }
  t.equal(journal.lastSeq, total);
  const segments = (await readdir(dirOf.get(journal)!)).length;
  t.ok(segments > 100, `${segments} segment files`);
  const before = { ...journal.stats };
  const start = await journal.seqAtTime(base + total - 250);
  t.equal(start, total - 249, 'the first seq of the range');
  const answer = await replayRange(
    journal,
    { from: start, to: journal.lastSeq, limit: 1000 },
    { scanMessages: 10_000, batchBytes: 1 << 20, readBatchMessages: 1000 },
  );
  t.equal(answer.msgs.length, 250, 'the whole range');
  t.equal(answer.msgs[0]?.seq, start);
  t.equal(journal.stats.timeSeeks - before.timeSeeks, 1, 'one segment scanned to find the start');
  t.ok(
    journal.stats.diskReads - before.diskReads <= 2,
    `read from at most two segments: ${journal.stats.diskReads - before.diskReads}`,
  );
  t.equal(journal.stats.cacheReads - before.cacheReads, 0);
});
