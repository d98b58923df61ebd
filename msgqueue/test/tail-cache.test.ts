import { encodeLink } from '@wsq/core';
import fc from 'fast-check';
import t from 'tap';
import { encodeMsgsFromRecords } from '../src/links/link-frames.js';
import { encodeRecordInto, measureRecord, type StoredMessage } from '../src/journal/record.js';
import { ReadBudget } from '../src/journal/segment.js';
import { ENTRY_OVERHEAD_BYTES, TailCache } from '../src/journal/tail-cache.js';

/** Encodes `msgs` into one buffer as the journal writer does for a group; returns it and each record's place. */
function group(msgs: StoredMessage[]): { buf: Buffer; places: { off: number; size: number }[] } {
  const sizes = msgs.map((m) => measureRecord(m.topic, m.data, m.pid));
  const buf = Buffer.allocUnsafeSlow(sizes.reduce((n, s) => n + s.recordBytes, 0));
  const places: { off: number; size: number }[] = [];
  let off = 0;
  msgs.forEach((m, i) => {
    places.push({ off, size: sizes[i].recordBytes });
    off = encodeRecordInto(buf, off, m, sizes[i]);
  });
  return { buf, places };
}

function msg(seq: number, extra: Partial<StoredMessage> = {}): StoredMessage {
  return {
    seq,
    topic: `t.${seq % 3}`,
    data: JSON.stringify(`payload ${seq} ✓`),
    ts: 1_764_000_000_000 + seq,
    ...extra,
  };
}

function pushGroup(cache: TailCache, msgs: StoredMessage[]): number[] {
  const { buf, places } = group(msgs);
  msgs.forEach((m, i) => cache.push(m.seq, buf, places[i].off, places[i].size));
  return places.map((p) => p.size);
}

function read(cache: TailCache, from: number, last: number, max = 1000): StoredMessage[] | undefined {
  const budget = new ReadBudget(max, 1 << 30);
  return cache.collect(from, last, budget) ? budget.out : undefined;
}

t.test('messages come back decoded from the record bytes the cache holds', async (t) => {
  const cache = new TailCache(1 << 20, 1);
  const first = [msg(1), msg(2, { pid: 'wsq:abcdefghijkl:1' }), msg(3)];
  const second = [msg(4, { pid: 'u\u0000é' }), msg(5)];
  pushGroup(cache, first);
  pushGroup(cache, second);
  t.same(read(cache, 1, 5), [...first, ...second]);
  t.same(
    read(cache, 3, 4)?.map((m) => m.seq),
    [3, 4],
    'a range across two group buffers',
  );
  t.same(
    read(cache, 2, 5, 2)?.map((m) => m.seq),
    [2, 3],
    'the budget stops the read',
  );
  t.equal(read(cache, 6, 9), undefined, 'not cached yet');
  t.equal(cache.firstSeq, 1);
  t.equal(cache.count, 5);
});

t.test('the byte budget counts records and entries, and evicts the oldest', async (t) => {
  const a = [msg(1), msg(2), msg(3)];
  const b = [msg(4)];
  const { places: pa } = group(a);
  const { places: pb } = group(b);
  const recordBytes = [...pa, ...pb].map((p) => p.size);
  const all = recordBytes.reduce((n, s) => n + s, 0) + 4 * ENTRY_OVERHEAD_BYTES;
  const roomy = new TailCache(all, 1);
  pushGroup(roomy, a);
  pushGroup(roomy, b);
  t.equal(roomy.usedBytes, all, 'exactly accounted');
  t.equal(roomy.count, 4, 'everything fits');

  const tight = new TailCache(all - 1, 1);
  pushGroup(tight, a);
  pushGroup(tight, b);
  t.equal(tight.firstSeq, 2, 'one byte short: the oldest message goes');
  t.equal(tight.usedBytes, all - recordBytes[0]! - ENTRY_OVERHEAD_BYTES);
  tight.dropBefore(4);
  t.equal(tight.usedBytes, recordBytes[3]! + ENTRY_OVERHEAD_BYTES);
  t.same(
    read(tight, 4, 4)?.map((m) => m.data),
    [b[0]!.data],
  );
  tight.dropBefore(5);
  t.equal(tight.usedBytes, 0, 'empty: nothing counted');
  t.equal(tight.count, 0);
});

t.test(
  'records are copied into shared slabs: the pushed buffer may be reused, a large record stands alone',
  async (t) => {
    const cache = new TailCache(1 << 20, 1); // slabs of 64 KiB
    const small = Array.from({ length: 20 }, (_, i) => msg(i + 1));
    const { buf, places } = group(small);
    small.forEach((m, i) => cache.push(m.seq, buf, places[i]!.off, places[i]!.size));
    buf.fill(0); // the writer's buffer goes back to the pool
    t.same(read(cache, 1, 20), small, 'unchanged after the source was overwritten');
    const one = cache.records(1, 20, new ReadBudget(100, 1 << 20))!;
    t.equal(new Set(one.bufs).size, 1, 'twenty small records share one slab');
    t.not(one.bufs[0], buf, 'a copy, not the pushed buffer');

    const big = msg(21, { data: JSON.stringify('x'.repeat(20_000)) });
    pushGroup(cache, [big]);
    const again = cache.records(1, 21, new ReadBudget(100, 1 << 22))!;
    t.not(again.bufs[20], again.bufs[0], 'a record over a quarter of a slab gets a buffer of its own');
    t.same(read(cache, 21, 21), [big]);
    t.same(read(cache, 20, 20), [small[19]], 'the slab goes on after it');
  },
);

t.test('a group encoded into groupBuffer stays in place; anything else is copied', async (t) => {
  const cache = new TailCache(1 << 20, 1); // slabs of 64 KiB
  /** Encodes msgs into the cache's group buffer, as the journal writer does, and pushes them. */
  const inPlace = (msgs: StoredMessage[]) => {
    const { buf: encoded, places } = group(msgs);
    const into = cache.groupBuffer(encoded.length)!;
    encoded.copy(into);
    const copy = Buffer.prototype.copy;
    let copies = 0;
    Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer['copy']>) {
      copies++;
      return copy.apply(this, args);
    };
    try {
      msgs.forEach((m, i) => cache.push(m.seq, into, places[i]!.off, places[i]!.size));
    } finally {
      Buffer.prototype.copy = copy;
    }
    t.equal(copies, 0, `${msgs.length} records pushed without a copy`);
    return into;
  };
  const first = Array.from({ length: 10 }, (_, i) => msg(i + 1));
  const into = inPlace(first);
  const recs = cache.records(1, 10, new ReadBudget(100, 1 << 20))!;
  t.equal(recs.bufs[0]!.buffer, into.buffer, 'the records are read from the memory they were encoded into');
  t.same(
    recs.offs,
    first.map((_, i) => into.byteOffset + group(first.slice(0, i)).buf.length),
    'at the offsets they were written at',
  );
  t.same(read(cache, 1, 10), first);
  const second = [msg(11), msg(12)];
  const next = inPlace(second);
  t.equal(next.byteOffset, into.byteOffset + into.length, 'the next group follows in the same slab');
  t.same(read(cache, 1, 12), [...first, ...second]);

  // A group buffer that goes unused (its write failed) costs nothing: the next records are copied there.
  const third = [msg(13)];
  const unused = cache.groupBuffer(group(third).buf.length)!;
  const { buf: elsewhere } = group(third);
  cache.push(13, elsewhere, 0, elsewhere.length);
  elsewhere.fill(0);
  t.same(read(cache, 13, 13), third, 'a record from another buffer is copied');
  t.equal(cache.records(13, 13, new ReadBudget(1, 1 << 20))!.offs[0], unused.byteOffset, 'into the free end');
  t.equal(cache.groupBuffer(64 * 1024), undefined, 'a group over a quarter of a slab gets a buffer of its own');
  t.equal(new TailCache(0, 1).groupBuffer(10), undefined, 'no cache, no group buffer');
});

t.test('a gap in the seqs starts the cache over; maxBytes 0 caches nothing', async (t) => {
  const cache = new TailCache(1 << 20, 1);
  pushGroup(cache, [msg(1), msg(2)]);
  pushGroup(cache, [msg(7)]);
  t.equal(cache.firstSeq, 7);
  t.equal(read(cache, 1, 7), undefined, 'the old run is gone');
  t.same(
    read(cache, 7, 7)?.map((m) => m.seq),
    [7],
  );
  const off = new TailCache(0, 1);
  pushGroup(off, [msg(1)]);
  t.equal(off.count, 0);
  t.equal(off.firstSeq, 2, 'still tracks the next seq');
  t.equal(read(off, 1, 1), undefined);
});

t.test('long runs wrap the ring of slots, grow it, shrink it, and keep serving the newest messages', async (t) => {
  const cache = new TailCache(100 * 200, 1);
  for (let seq = 1; seq <= 20_000; seq += 10)
    pushGroup(
      cache,
      Array.from({ length: 10 }, (_, i) => msg(seq + i)),
    );
  t.ok(cache.count > 10 && cache.count < 1000, `bounded (${cache.count} cached)`);
  t.ok(cache.usedBytes <= 100 * 200, 'within the budget');
  const newest = read(cache, cache.firstSeq, 20_000);
  t.equal(newest?.length, cache.count);
  t.same(newest?.[newest.length - 1], msg(20_000));

  const big = new TailCache(1 << 24, 1);
  pushGroup(
    big,
    Array.from({ length: 5000 }, (_, i) => msg(i + 1)),
  );
  t.equal(big.count, 5000, 'the ring grew past its first 1024 slots');
  t.same(
    read(big, 1, 5000, 10_000),
    Array.from({ length: 5000 }, (_, i) => msg(i + 1)),
  );
  big.dropBefore(4990);
  t.same(
    read(big, 4990, 5000)?.map((m) => m.seq),
    Array.from({ length: 11 }, (_, i) => 4990 + i),
    'and shrank back around the last ones',
  );
  pushGroup(big, [msg(5001)]);
  t.same(read(big, 4990, 5001)?.length, 12);
});

t.test('a slab whose records were all evicted is written over instead of new memory', async (t) => {
  const cache = new TailCache(64 * 1024, 1); // slabs of 4 KiB, sixteen of them in the budget
  const alloc = Buffer.allocUnsafeSlow;
  let slabs = 0;
  Buffer.allocUnsafeSlow = (size: number) => {
    if (size === 4096) slabs++; // group() below allocates too
    return alloc(size);
  };
  let seq = 1;
  const fill = (groups: number) => {
    for (let g = 0; g < groups; g++, seq += 4) {
      const msgs = Array.from({ length: 4 }, (_, i) => msg(seq + i));
      const { buf: encoded, places } = group(msgs);
      const into = cache.groupBuffer(encoded.length)!;
      encoded.copy(into);
      msgs.forEach((m, i) => cache.push(m.seq, into, places[i]!.off, places[i]!.size));
    }
  };
  try {
    fill(500);
    const warm = slabs;
    fill(5000);
    t.ok(warm > 1 && warm <= 16 + 3, `at most the budget's worth of slabs and three more at first (${warm})`);
    t.equal(slabs, warm, 'none after that: evicted slabs are reused');
  } finally {
    Buffer.allocUnsafeSlow = alloc;
  }
  const last = seq - 1;
  t.same(read(cache, cache.firstSeq, last, 100_000)?.length, cache.count);
  t.same(read(cache, last - 3, last), [msg(last - 3), msg(last - 2), msg(last - 1), msg(last)]);
});

/**
 * Every cached message decodes to the message pushed with its seq, and none lies in the spare
 * slab (the private field is read here: that memory is written over next, which may happen
 * after the last look at the records it would have spoilt).
 */
function holdsWhatWasPushed(cache: TailCache, pushed: Map<number, StoredMessage>): boolean {
  if (cache.count === 0) return true;
  const last = cache.firstSeq + cache.count - 1;
  const got = read(cache, cache.firstSeq, last, 100_000) ?? [];
  const { spare } = cache as unknown as { spare: Buffer | undefined };
  const records = cache.records(cache.firstSeq, last, new ReadBudget(100_000, 1 << 30))!;
  return (
    got.length === cache.count &&
    got.every((m) => JSON.stringify(m) === JSON.stringify(pushed.get(m.seq))) &&
    records.bufs.every((b) => b !== spare)
  );
}

t.test('property: whatever is pushed, dropped or evicted, the cache reads back what was pushed', async (t) => {
  const op = fc.oneof(
    {
      arbitrary: fc.record({
        kind: fc.constant('push' as const),
        sizes: fc.array(fc.oneof(fc.nat({ max: 300 }), fc.constant(5000)), { minLength: 1, maxLength: 12 }),
        inPlace: fc.boolean(),
      }),
      weight: 8,
    },
    { arbitrary: fc.record({ kind: fc.constant('drop' as const), back: fc.nat({ max: 40 }) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('gap' as const), skip: fc.integer({ min: 1, max: 5 }) }), weight: 1 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 2000, max: 40_000 }), fc.array(op, { maxLength: 60 }), (budget, ops) => {
      const cache = new TailCache(budget, 1);
      const pushed = new Map<number, StoredMessage>();
      let next = 1;
      for (const o of ops) {
        if (o.kind === 'gap') {
          next += o.skip;
          continue;
        }
        if (o.kind === 'drop') {
          cache.dropBefore(Math.max(cache.firstSeq, next - o.back));
          continue;
        }
        const msgs = o.sizes.map((n, i) => msg(next + i, { data: JSON.stringify('d'.repeat(n)) }));
        next += msgs.length;
        msgs.forEach((m) => pushed.set(m.seq, m));
        const { buf: encoded, places } = group(msgs);
        const into = o.inPlace ? cache.groupBuffer(encoded.length) : undefined;
        const src = into ?? Buffer.from(encoded);
        if (into) {
          encoded.copy(into);
          if (!holdsWhatWasPushed(cache, pushed)) return false; // a group buffer never overlaps a cached record
        }
        msgs.forEach((m, i) => cache.push(m.seq, src, places[i]!.off, places[i]!.size));
        src.fill(0xff, 0, into ? 0 : src.length); // a copied-from buffer may be reused at once
        if (cache.usedBytes > budget || !holdsWhatWasPushed(cache, pushed)) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('records() takes what a ReadBudget would, as bytes', async (t) => {
  const cache = new TailCache(1 << 20, 1);
  const sizes = pushGroup(
    cache,
    Array.from({ length: 6 }, (_, i) => msg(i + 1)),
  );
  const seqsOf = (from: number, max: number, bytes: number) => {
    const r = cache.records(from, 6, new ReadBudget(max, bytes));
    const budget = new ReadBudget(max, bytes);
    cache.collect(from, 6, budget);
    t.same(
      r && Array.from({ length: r.count }, (_, i) => r.first + i),
      budget.out.map((m) => m.seq),
      `from ${from}, ${max} messages, ${bytes} bytes: as the budget`,
    );
    return r?.count;
  };
  t.equal(seqsOf(2, 100, 1 << 20), 5);
  t.equal(seqsOf(1, 2, 1 << 20), 2);
  t.equal(seqsOf(1, 100, sizes[0] + sizes[1]), 2, 'stops on reaching the bytes');
  t.equal(seqsOf(1, 100, sizes[0] + 1), 1, 'stops before passing them');
  t.equal(seqsOf(3, 100, 1), 1, 'the first record always');
  t.equal(cache.records(7, 9, new ReadBudget(10, 1000)), undefined, 'beyond the cache');
  t.equal(cache.records(0, 9, new ReadBudget(10, 1000)), undefined, 'before the cache');
});

t.test('property: a msgs frame copied from records is the frame of the decoded messages', async (t) => {
  const topic = fc
    .array(fc.stringMatching(/^[!-)+\-/-=?-~]{1,12}$/), { minLength: 1, maxLength: 3 })
    .map((a) => a.join('.'));
  const item = fc.record(
    {
      topic,
      data: fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => JSON.stringify(s)),
      ),
      ts: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      pid: fc.string({ maxLength: 40 }),
    },
    { requiredKeys: ['topic', 'data', 'ts'] },
  );
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 40 }), fc.array(item, { minLength: 1, maxLength: 8 }), (firstSeq, items) => {
      const msgs: StoredMessage[] = items.map((m, i) => ({ ...m, seq: firstSeq + i + 1 }));
      const cache = new TailCache(1 << 24, msgs[0]!.seq);
      pushGroup(cache, msgs);
      const records = cache.records(msgs[0]!.seq, msgs[msgs.length - 1]!.seq, new ReadBudget(100, 1 << 24))!;
      const copied = encodeMsgsFromRecords(records);
      const encoded = encodeLink({ op: 'msgs', msgs }) as Buffer;
      return copied.equals(encoded);
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});
