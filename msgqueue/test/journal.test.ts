import { randomBytes } from 'node:crypto';
import {
  appendFile,
  mkdtemp,
  open as openFile,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  JOURNAL_DEFAULTS,
  openJournal,
  type AppendInput,
  type Journal,
  type JournalOptions,
  type StoredMessage,
} from '../src/journal/journal.js';
import { measureRecord } from '../src/journal/record.js';
import { ENTRY_OVERHEAD_BYTES } from '../src/journal/tail-cache.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsq-journal-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openTest(
  t: Teardown,
  dir: string,
  over: Partial<JournalOptions> = {},
  now?: () => number,
): Promise<Journal> {
  const journal = await openJournal(
    { ...JOURNAL_DEFAULTS, fsync: 'never', retainMs: 0, ...over, dir },
    now ? { now } : {},
  );
  t.teardown(() => journal.close());
  return journal;
}

/** Fixed-size messages (for i < 1000) so tests can compute file offsets. */
function item(i: number, extra: Partial<AppendInput> = {}): AppendInput {
  return { topic: `orders.${i % 3}`, data: `{"i":${String(i).padStart(3, '0')}}`, ts: 1_000 + i, ...extra };
}

const RECORD_BYTES = measureRecord(item(0).topic, item(0).data, undefined).recordBytes;

async function appendEach(journal: Journal, from: number, to: number, extra: Partial<AppendInput> = {}) {
  for (let i = from; i <= to; i++) await journal.append([item(i, extra)]);
}

async function readAll(journal: Journal, from = 1): Promise<StoredMessage[]> {
  return journal.read(from, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
}

async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
}

/** XORs one byte of a file, to simulate bit rot. */
async function flipByte(path: string, offset: number): Promise<void> {
  const fh = await openFile(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

t.test('an empty journal has lastSeq 0 and firstSeq 1', async (t) => {
  const journal = await openTest(t, await tempDir(t));
  t.equal(journal.lastSeq, 0);
  t.equal(journal.firstSeq, 1);
  t.same(await readAll(journal), []);
});

t.test('append then read returns the same messages', async (t) => {
  const journal = await openTest(t, await tempDir(t));
  const stored = await journal.append([
    { topic: 'a.b', data: '{"x":1}', ts: 10 },
    { topic: 'a.c', data: '"h\u00e9llo \u2713"', ts: 11, pid: 'p-1' },
    { topic: 'a.b', data: '', ts: 12, pid: '' },
  ]);
  t.same(stored, [
    { seq: 1, topic: 'a.b', data: '{"x":1}', ts: 10 },
    { seq: 2, topic: 'a.c', data: '"h\u00e9llo \u2713"', ts: 11, pid: 'p-1' },
    { seq: 3, topic: 'a.b', data: '', ts: 12, pid: '' },
  ]);
  t.notOk('pid' in stored[0], 'no pid key when absent');
  t.equal(journal.lastSeq, 3);
  t.same(await readAll(journal), stored);
  t.same(await readAll(journal, -5), stored, 'fromSeq below firstSeq starts at firstSeq');
  t.same(await journal.read(2, 1, 1e6), [stored[1]]);
  t.same(await readAll(journal, 4), []);
  t.same(await journal.append([]), []);
});

t.test('read honours maxMessages and maxBytes but returns at least one message', async (t) => {
  const journal = await openTest(t, await tempDir(t));
  await journal.append([item(1), item(2), item(3)]);
  t.same(
    (await journal.read(1, 2, 1e6)).map((m) => m.seq),
    [1, 2],
  );
  t.same(
    (await journal.read(1, 10, 1)).map((m) => m.seq),
    [1],
    'one message even over maxBytes',
  );
  t.same(
    (await journal.read(1, 10, 2 * RECORD_BYTES)).map((m) => m.seq),
    [1, 2],
  );
  t.same(await journal.read(1, 0, 1e6), []);
});

t.test('seqs continue across a reopen and old messages are read from disk', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir, { fsync: 'always' });
  await appendEach(first, 1, 5);
  await first.close();
  const second = await openTest(t, dir);
  t.equal(second.lastSeq, 5);
  t.equal(second.firstSeq, 1);
  t.same(
    (await readAll(second)).map((m) => m.data),
    [1, 2, 3, 4, 5].map((i) => item(i).data),
  );
  t.ok(second.stats.diskReads > 0, 'served from disk');
  const [next] = await second.append([item(6)]);
  t.equal(next.seq, 6);
});

t.test('group commit: appends of one turn share one write and one fsync', async (t) => {
  const journal = await openTest(t, await tempDir(t), { fsync: 'always' });
  const before = { ...journal.stats };
  const calls = Array.from({ length: 1000 }, (_, i) => journal.append([item(i)]));
  const results = await Promise.all(calls);
  t.equal(journal.stats.writes - before.writes, 1, 'one write');
  t.ok(journal.stats.fsyncs - before.fsyncs <= 1, 'at most one fsync');
  t.same(
    results.map((r) => r[0].seq),
    results.map((_, i) => i + 1),
    'seqs in call order',
  );
  t.equal(journal.lastSeq, 1000);
});

t.test('appends arriving while a write is in flight form the next group', async (t) => {
  const journal = await openTest(t, await tempDir(t), { fsync: 'always' });
  const first = journal.append([item(0)]);
  // Runs right after the drain started the first write; its completion can only arrive in a
  // later poll phase, so the write is still in flight here.
  await new Promise((resolve) => setImmediate(resolve));
  const rest = Array.from({ length: 100 }, (_, i) => journal.append([item(i + 1)]));
  await Promise.all([first, ...rest]);
  t.equal(journal.stats.writes, 2, 'first write, then one write for all 100');
  t.equal(journal.stats.fsyncs, 2);
  t.equal(journal.lastSeq, 101);
});

t.test('batch mode resolves appends without an fsync; sync() forces one', async (t) => {
  const journal = await openTest(t, await tempDir(t), { fsync: 'batch', fsyncIntervalMs: 60_000 });
  await journal.append([item(1)]);
  t.equal(journal.stats.fsyncs, 0);
  await journal.sync();
  t.equal(journal.stats.fsyncs, 1);
});

t.test('a torn tail is cut on open and appends continue after it', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir);
  await first.append([1, 2, 3, 4, 5].map((i) => item(i)));
  await first.close();
  const [file] = await segmentNames(dir);
  await truncate(join(dir, file), 5 * RECORD_BYTES - 3);

  const second = await openTest(t, dir);
  t.equal(second.lastSeq, 4);
  t.equal(second.recovery.truncatedBytes, RECORD_BYTES - 3);
  t.equal(second.recoveredTruncatedBytes, RECORD_BYTES - 3);
  t.equal((await stat(join(dir, file))).size, 4 * RECORD_BYTES, 'file cut at the last complete record');
  t.same(
    (await readAll(second)).map((m) => m.seq),
    [1, 2, 3, 4],
  );
  const [next] = await second.append([item(99)]);
  t.equal(next.seq, 5);
  await second.close();

  const third = await openTest(t, dir);
  t.equal(third.recoveredTruncatedBytes, 0);
  t.same(
    (await readAll(third)).map((m) => m.data),
    [1, 2, 3, 4, 99].map((i) => item(i).data),
  );
});

t.test('garbage after the last record is cut on open', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir);
  await first.append([item(1), item(2)]);
  await first.close();
  const [file] = await segmentNames(dir);
  await appendFile(join(dir, file), Buffer.alloc(100, 0xab));

  const second = await openTest(t, dir);
  t.equal(second.lastSeq, 2);
  t.equal(second.recovery.truncatedBytes, 100);
  t.same((await second.append([item(3)]))[0].seq, 3);
});

t.test(
  'a corrupt record in the last segment with valid ones after it: they are salvaged, seqs not reused',
  async (t) => {
    const dir = await tempDir(t);
    const first = await openTest(t, dir);
    await first.append([1, 2, 3, 4, 5].map((i) => item(i)));
    await first.close();
    const [file] = await segmentNames(dir);
    await flipByte(join(dir, file), 2 * RECORD_BYTES + 20); // inside the body of record 3

    const second = await openTest(t, dir);
    t.equal(second.lastSeq, 5);
    t.match(second.recovery, {
      truncatedBytes: 0,
      skippedBytes: 3 * RECORD_BYTES,
      corruptSegments: 1,
      skippedSeqs: 1,
      salvagedRecords: 2,
    });
    t.equal((await stat(join(dir, file))).size, 5 * RECORD_BYTES, 'nothing cut: the damaged file stays as it was');
    t.same(
      (await readAll(second)).map((m) => [m.seq, m.data]),
      [1, 2, 4, 5].map((i) => [i, item(i).data]),
      'records 4 and 5 read back; only the corrupt one is gone',
    );
    t.equal((await second.append([item(6)]))[0].seq, 6);
    await second.close();
    t.equal((await segmentNames(dir)).length, 2, 'the salvaged records and the new ones share a new segment');

    const third = await openTest(t, dir);
    t.match(third.recovery, { truncatedBytes: 0, corruptSegments: 1, skippedSeqs: 0, salvagedRecords: 0 });
    t.same(
      (await readAll(third)).map((m) => m.seq),
      [1, 2, 4, 5, 6],
    );
    t.equal((await third.append([item(7)]))[0].seq, 7);
  },
);

t.test('valid records found past megabytes of random garbage, one of them cut by a search window', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir);
  await first.append([1, 2, 3, 4, 5].map((i) => item(i)));
  await first.close();
  const [file] = await segmentNames(dir);
  const path = join(dir, file);
  const whole = await readFile(path);
  // Records 1-4, then garbage that puts record 5's header across the end of the first 1 MiB
  // search window: only that record tells a damaged segment from a torn tail.
  const garbage = randomBytes(1024 * 1024 - 5);
  garbage[0] = 0xff; // an impossible length: the scan stops right at the garbage
  await writeFile(
    path,
    Buffer.concat([whole.subarray(0, 4 * RECORD_BYTES), garbage, whole.subarray(4 * RECORD_BYTES)]),
  );

  const second = await openTest(t, dir);
  t.match(second.recovery, { truncatedBytes: 0, corruptSegments: 1, skippedSeqs: 0, salvagedRecords: 1 });
  t.equal(second.recovery.skippedBytes, garbage.length + RECORD_BYTES);
  t.same(
    (await readAll(second)).map((m) => m.seq),
    [1, 2, 3, 4, 5],
    'record 5 salvaged from behind the garbage',
  );
  t.equal((await second.append([item(6)]))[0].seq, 6);
});

t.test('salvaged records with a gap between them go to one segment per run of seqs', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir);
  await first.append([1, 2, 3, 4, 5, 6].map((i) => item(i)));
  await first.close();
  const [file] = await segmentNames(dir);
  await flipByte(join(dir, file), 1 * RECORD_BYTES + 20); // record 2
  await flipByte(join(dir, file), 3 * RECORD_BYTES + 20); // record 4

  const second = await openTest(t, dir);
  t.match(second.recovery, { skippedSeqs: 2, salvagedRecords: 3 });
  t.same(
    (await readAll(second)).map((m) => m.seq),
    [1, 3, 5, 6],
  );
  t.same(
    (await second.read(4, 2, 1e6)).map((m) => m.seq),
    [5, 6],
    'a read inside a gap resumes after it',
  );
  t.equal((await second.append([item(7)]))[0].seq, 7);
  await second.close();
  t.equal((await segmentNames(dir)).length, 3, 'the damaged segment, then runs 3 and 5..7');
});

t.test('a corrupt last record (nothing valid after it) is a torn tail and is cut', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir);
  await first.append([1, 2, 3].map((i) => item(i)));
  await first.close();
  const [file] = await segmentNames(dir);
  await flipByte(join(dir, file), 2 * RECORD_BYTES + 20);
  await appendFile(join(dir, file), Buffer.alloc(64, 0)); // and zeros after it, as a crash may leave

  const second = await openTest(t, dir);
  t.match(second.recovery, { truncatedBytes: RECORD_BYTES + 64, skippedBytes: 0, skippedSeqs: 0 });
  t.equal((await stat(join(dir, file))).size, 2 * RECORD_BYTES);
  t.equal((await second.append([item(9)]))[0].seq, 3);
});

t.test('minNextSeq: seqs handed out before are never reused, even if the journal lost them', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir);
  await first.append([1, 2, 3].map((i) => item(i)));
  await first.close();

  const second = await openTest(t, dir, { minNextSeq: 7 });
  t.equal(second.lastSeq, 6);
  t.equal(second.recovery.skippedSeqs, 3);
  t.equal((await second.append([item(7)]))[0].seq, 7);
  t.same(
    (await readAll(second)).map((m) => m.seq),
    [1, 2, 3, 7],
  );
  await second.close();

  const third = await openTest(t, dir, { minNextSeq: 2 });
  t.equal(third.recovery.skippedSeqs, 0, 'below the journal: nothing to skip');
  t.equal(third.lastSeq, 7);
  await third.close();

  const empty = await openTest(t, await tempDir(t), { minNextSeq: 42 });
  t.equal(empty.recovery.skippedSeqs, 41);
  t.equal((await empty.append([item(1)]))[0].seq, 42);
  await t.rejects(openTest(t, await tempDir(t), { minNextSeq: 0 }), { code: 'INVALID_ARGUMENT' });

  const unused = await tempDir(t);
  await (await openTest(t, unused)).close(); // leaves an empty segment file starting at 1
  const reopened = await openTest(t, unused, { minNextSeq: 5 });
  t.equal((await reopened.append([item(5)]))[0].seq, 5);
  t.equal((await segmentNames(unused)).length, 1, 'the empty segment file was replaced, not kept beside');
});

t.test('a corrupt record in an older segment stops only that segment', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir, { segmentBytes: 3 * RECORD_BYTES });
  await appendEach(first, 1, 10);
  await first.close();
  const names = await segmentNames(dir);
  t.equal(names.length, 4);
  await flipByte(join(dir, names[0]), RECORD_BYTES + 20); // record 2 of segment 1..3

  const second = await openTest(t, dir, { segmentBytes: 3 * RECORD_BYTES });
  t.equal(second.recovery.corruptSegments, 1);
  t.equal(second.recovery.skippedBytes, 2 * RECORD_BYTES);
  t.equal(second.recovery.truncatedBytes, 0);
  t.equal(second.recoveredTruncatedBytes, 2 * RECORD_BYTES);
  t.equal(second.firstSeq, 1);
  t.equal(second.lastSeq, 10);
  t.same(
    (await readAll(second)).map((m) => m.seq),
    [1, 4, 5, 6, 7, 8, 9, 10],
    'the gap is skipped',
  );
  t.same(
    (await second.read(2, 2, 1e6)).map((m) => m.seq),
    [4, 5],
    'a read inside the gap resumes after it',
  );
  t.equal((await second.append([item(11)]))[0].seq, 11);
});

t.test('segments roll once they reach segmentBytes and reads span them', async (t) => {
  const dir = await tempDir(t);
  const journal = await openTest(t, dir, { segmentBytes: 3 * RECORD_BYTES, cacheBytes: 0 });
  await appendEach(journal, 1, 10);
  t.same(
    await segmentNames(dir),
    [1, 4, 7, 10].map((s) => `${String(s).padStart(20, '0')}.log`),
  );
  t.same(
    (await readAll(journal)).map((m) => m.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  t.same(
    (await journal.read(3, 4, 1e6)).map((m) => m.seq),
    [3, 4, 5, 6],
  );
  await journal.close();
  const reopened = await openTest(t, dir, { segmentBytes: 3 * RECORD_BYTES });
  t.equal(reopened.lastSeq, 10);
  t.same(
    (await readAll(reopened, 9)).map((m) => m.seq),
    [9, 10],
  );
});

t.test('retention by message count deletes the oldest sealed segments', async (t) => {
  const dir = await tempDir(t);
  const journal = await openTest(t, dir, { segmentBytes: 3 * RECORD_BYTES, retainMessages: 5 });
  await appendEach(journal, 1, 10);
  await journal.applyRetention();
  t.equal(journal.firstSeq, 7, 'segments 1-3 and 4-6 went; 7-9 and 10 hold 4 messages');
  t.same(
    await segmentNames(dir),
    [7, 10].map((s) => `${String(s).padStart(20, '0')}.log`),
  );
  t.same(
    (await readAll(journal)).map((m) => m.seq),
    [7, 8, 9, 10],
  );
  t.equal(journal.stats.deletedSegments, 2);
});

t.test('retention by bytes deletes the oldest sealed segments', async (t) => {
  const dir = await tempDir(t);
  const journal = await openTest(t, dir, { segmentBytes: 3 * RECORD_BYTES, retainBytes: 7 * RECORD_BYTES });
  await appendEach(journal, 1, 10);
  await journal.applyRetention();
  t.equal(journal.firstSeq, 4, 'dropping 1-3 brings 10 records down to 7, within the limit');
  t.equal((await segmentNames(dir)).length, 3);
  t.equal((await readAll(journal, 1))[0].seq, 4);
});

t.test('retention never deletes the active segment', async (t) => {
  const dir = await tempDir(t);
  const journal = await openTest(t, dir, { retainMessages: 1, retainBytes: 1, retainMs: 1 }, () => 1e12);
  await appendEach(journal, 1, 5);
  await journal.applyRetention();
  t.equal(journal.firstSeq, 1);
  t.equal((await readAll(journal)).length, 5);
});

t.test('retention by age uses the injected clock', async (t) => {
  const dir = await tempDir(t);
  let now = 1_000_000;
  const opts = { segmentBytes: 3 * RECORD_BYTES, retainMs: 10_000 };
  const journal = await openTest(t, dir, opts, () => now);
  for (let i = 1; i <= 7; i++) {
    await journal.append([item(i, { ts: now })]);
    now += 1_000; // segment 1-3 newest ts: 1_002_000; 4-6: 1_005_000; 7: 1_006_000
  }
  now = 1_012_500; // cutoff 1_002_500: only segment 1-3 is older
  await journal.applyRetention();
  t.equal(journal.firstSeq, 4);
  now = 1_100_000; // everything is old, but 7.. is the active segment
  await journal.applyRetention();
  t.equal(journal.firstSeq, 7);
  t.same(
    (await readAll(journal)).map((m) => m.seq),
    [7],
  );
  await journal.close();

  const reopened = await openTest(t, dir, opts, () => now);
  t.equal(reopened.firstSeq, 7, 'retention state comes from the files left on disk');
});

t.test('reads are served from disk once the cache evicted them, seeking by the sparse index', async (t) => {
  const journal = await openTest(t, await tempDir(t), { cacheBytes: 1 });
  const total = 10_000;
  for (let i = 0; i < total; i += 500) {
    await journal.append(Array.from({ length: 500 }, (_, k) => ({ topic: 'x', data: String(i + k + 1), ts: 1 })));
  }
  for (const from of [1, 4096, 4097, 8193, 9990]) {
    const got = await journal.read(from, 20, 1e6);
    const want = Array.from({ length: Math.min(20, total - from + 1) }, (_, k) => String(from + k));
    t.same(
      got.map((m) => m.data),
      want,
      `from ${from}`,
    );
  }
  t.equal(journal.stats.cacheReads, 0);
  t.ok(journal.stats.diskReads >= 5);
});

t.test('sequential and backward disk reads stay exact (read position hints)', async (t) => {
  const journal = await openTest(t, await tempDir(t), { cacheBytes: 1 });
  await journal.append(Array.from({ length: 9000 }, (_, i) => ({ topic: 'x', data: String(i + 1), ts: 1 })));
  let from = 1;
  let contiguous = true;
  for (;;) {
    const got = await journal.read(from, 7, 1e6);
    if (got.length === 0) break;
    contiguous &&= got.every((m, k) => m.seq === from + k && m.data === String(from + k));
    from = got[got.length - 1].seq + 1;
  }
  t.ok(contiguous, 'every batch continues exactly where the previous stopped');
  t.equal(from, 9001);
  for (const back of [8999, 5000, 4097, 2, 1]) {
    t.same(
      (await journal.read(back, 2, 1e6)).map((m) => m.data),
      [String(back), String(back + 1)],
      `back to ${back}`,
    );
  }
});

t.test('recent messages are served from the cache', async (t) => {
  const journal = await openTest(t, await tempDir(t), { cacheBytes: 50 * (RECORD_BYTES + ENTRY_OVERHEAD_BYTES) });
  await journal.append(Array.from({ length: 100 }, (_, i) => item(i)));
  const disk = journal.stats.diskReads;
  t.same(
    (await journal.read(60, 100, 1e6)).map((m) => m.seq),
    Array.from({ length: 41 }, (_, i) => 60 + i),
  );
  t.equal(journal.stats.diskReads, disk, 'no disk read');
  t.same((await journal.read(1, 100, 1e6)).length, 100, 'older part from disk, rest from cache');
  t.ok(journal.stats.diskReads > disk);
});

t.test('a record larger than the read chunk round-trips through the disk', async (t) => {
  const dir = await tempDir(t);
  const journal = await openTest(t, dir, { cacheBytes: 0 });
  const big = 'x'.repeat(700 * 1024);
  await journal.append([item(1), { topic: 'big', data: big, ts: 2 }, item(3)]);
  const got = await readAll(journal);
  t.same(
    got.map((m) => m.data.length),
    [item(1).data.length, big.length, item(3).data.length],
  );
  await journal.close();
  const reopened = await openTest(t, dir);
  t.equal(reopened.lastSeq, 3);
  t.equal((await reopened.read(2, 1, 1))[0].data, big);
});

t.test('reads running concurrently with appends see contiguous committed prefixes', async (t) => {
  const journal = await openTest(t, await tempDir(t), {
    cacheBytes: 20 * (RECORD_BYTES + ENTRY_OVERHEAD_BYTES),
    segmentBytes: 4096,
  });
  const reads: Promise<StoredMessage[]>[] = [];
  const appends: Promise<StoredMessage[]>[] = [];
  for (let round = 0; round < 40; round++) {
    appends.push(journal.append(Array.from({ length: 10 }, (_, i) => item(round * 10 + i))));
    reads.push(readAll(journal, 1 + round * 3));
  }
  await Promise.all(appends);
  for (const [round, got] of (await Promise.all(reads)).entries()) {
    const seqs = got.map((m) => m.seq);
    const ok = seqs.every((s, i) => s === 1 + round * 3 + i);
    t.ok(ok || seqs.length === 0, `read ${round} is contiguous from its fromSeq`);
  }
  t.same(
    (await readAll(journal)).map((m) => m.data),
    Array.from({ length: 400 }, (_, i) => item(i).data),
  );
});

t.test('appends pending at close are written; later calls fail with JOURNAL_CLOSED', async (t) => {
  const dir = await tempDir(t);
  const journal = await openTest(t, dir);
  const pending = journal.append([item(1)]);
  const closed = journal.close();
  t.equal(journal.close(), closed, 'close is idempotent');
  await closed;
  t.equal((await pending)[0].seq, 1);
  await t.rejects(journal.append([item(2)]), { code: 'JOURNAL_CLOSED' });
  await t.rejects(journal.read(1, 1, 1), { code: 'JOURNAL_CLOSED' });
  await t.rejects(journal.sync(), { code: 'JOURNAL_CLOSED' });
  const reopened = await openTest(t, dir);
  t.equal(reopened.lastSeq, 1);
});

t.test('invalid input is rejected with a code', async (t) => {
  const dir = await tempDir(t);
  const journal = await openTest(t, dir);
  await t.rejects(journal.append([{ topic: 'x'.repeat(70_000), data: '', ts: 1 }]), { code: 'RECORD_TOO_LARGE' });
  await t.rejects(journal.append([{ topic: 'x', data: '', ts: Number.NaN }]), { code: 'INVALID_ARGUMENT' });
  await t.rejects(journal.append([{ topic: 'x', data: 1 as unknown as string, ts: 1 }]), {
    code: 'INVALID_ARGUMENT',
  });
  await t.rejects(openJournal({ ...JOURNAL_DEFAULTS, dir, segmentBytes: 0 }), { code: 'INVALID_ARGUMENT' });
  await t.rejects(openJournal({ ...JOURNAL_DEFAULTS, dir, fsync: 'sometimes' as 'never' }), {
    code: 'INVALID_ARGUMENT',
  });
  t.equal(journal.lastSeq, 0, 'nothing was written');
});

t.test('a segment file overlapping its predecessor refuses to open', async (t) => {
  const dir = await tempDir(t);
  const first = await openTest(t, dir, { segmentBytes: 3 * RECORD_BYTES });
  await appendEach(first, 1, 4);
  await first.close();
  await appendFile(join(dir, `${'2'.padStart(20, '0')}.log`), '');
  await t.rejects(openJournal({ ...JOURNAL_DEFAULTS, dir }), { code: 'JOURNAL_CORRUPT' });
});

/** Records intervals created and not yet cleared while installed. */
function trackIntervals(t: Teardown): Set<unknown> {
  const live = new Set<unknown>();
  const { setInterval: realSet, clearInterval: realClear } = globalThis;
  globalThis.setInterval = ((...args: Parameters<typeof realSet>) => {
    const handle = realSet(...args);
    live.add(handle);
    return handle;
  }) as typeof realSet;
  globalThis.clearInterval = ((handle: Parameters<typeof realClear>[0]) => {
    live.delete(handle);
    realClear(handle);
  }) as typeof realClear;
  t.teardown(() => {
    globalThis.setInterval = realSet;
    globalThis.clearInterval = realClear;
  });
  return live;
}

async function openFds(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

t.test('close releases every timer and file descriptor', { skip: process.platform !== 'linux' }, async (t) => {
  const dir = await tempDir(t);
  const live = trackIntervals(t);
  const fdsBefore = await openFds();
  const journal = await openJournal({ ...JOURNAL_DEFAULTS, dir, fsync: 'batch', segmentBytes: 3 * RECORD_BYTES });
  t.equal(live.size, 2, 'retention and fsync timers');
  await appendEach(journal, 1, 10);
  await readAll(journal);
  await journal.close();
  t.equal(live.size, 0, 'timers cleared');
  t.equal(await openFds(), fdsBefore, 'no file left open');
});

t.test('readCachedRecords answers what readCached would, as record bytes', async (t) => {
  const journal = await openTest(t, await tempDir(t), { cacheBytes: 10 * (RECORD_BYTES + ENTRY_OVERHEAD_BYTES) });
  await journal.append(Array.from({ length: 30 }, (_, i) => item(i)));
  const seqsOf = (from: number, max: number, bytes: number) => {
    const r = journal.readCachedRecords(from, max, bytes);
    return r && Array.from({ length: r.count }, (_, i) => r.first + i);
  };
  for (const [from, max, bytes] of [
    [25, 100, 1 << 20],
    [22, 3, 1 << 20],
    [21, 100, 2 * RECORD_BYTES],
    [31, 10, 1 << 20],
  ] as const)
    t.same(
      seqsOf(from, max, bytes),
      journal.readCached(from, max, bytes)?.map((m) => m.seq),
      `from ${from}, ${max} messages, ${bytes} bytes`,
    );
  t.same(seqsOf(31, 10, 1 << 20), [], 'nothing newer: count 0');
  t.same(seqsOf(25, 0, 1 << 20), [], 'no room: count 0');
  t.equal(journal.readCachedRecords(5, 10, 1 << 20), undefined, 'evicted from the cache: read() it');
  const records = journal.readCachedRecords(29, 10, 1 << 20)!;
  t.ok(records.bytes >= 2 * RECORD_BYTES, 'their size is counted');
  await journal.close();
  t.throws(() => journal.readCachedRecords(29, 1, 1), { code: 'JOURNAL_CLOSED' });
});

t.test('readCached answers from the tail cache without waiting, and only from it', async (t) => {
  const journal = await openTest(t, await tempDir(t), { cacheBytes: 10 * (RECORD_BYTES + ENTRY_OVERHEAD_BYTES) });
  await journal.append(Array.from({ length: 30 }, (_, i) => item(i)));
  t.same(
    journal.readCached(25, 100, 1 << 20)?.map((m) => m.seq),
    [25, 26, 27, 28, 29, 30],
  );
  t.same(
    journal.readCached(22, 3, 1 << 20)?.map((m) => m.seq),
    [22, 23, 24],
    'message limit',
  );
  t.same(journal.readCached(31, 10, 1 << 20), [], 'nothing newer');
  t.equal(journal.readCached(5, 10, 1 << 20), undefined, 'evicted from the cache: read() it');
  t.same(
    (await journal.read(5, 2, 1 << 20)).map((m) => m.seq),
    [5, 6],
  );
  await journal.close();
  t.throws(() => journal.readCached(25, 1, 1), { code: 'JOURNAL_CLOSED' });
});
