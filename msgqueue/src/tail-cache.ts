// Bounded in-memory copy of the newest journal messages, so subscribers that keep up
// are served without touching the disk. Holds a contiguous run of seqs ending at the
// journal's last committed seq; evicts from the oldest end past `maxBytes`.
//
// The cache keeps the records' bytes in large slabs (the journal encodes a group straight into
// the current slab, see groupBuffer; other records are copied there), and decodes a message
// when a reader takes it. Holding decoded messages instead (an object and two or three strings
// each) kept up to 64 MiB of small objects alive on the JS heap: every new message survived
// the young-generation collections it met and was copied twice, and the msgqueue's scavenges
// took 2-9 ms, a pause every message in flight waited out. Keeping each group's write buffer
// instead of copying would still cost a Buffer object per message at low rates, where every
// message is a group of its own. Per message the cache holds two numbers and a reference in
// arrays; per slab (up to 1 MiB of records), one Buffer.

import type { ReadBudget } from './segment.js';
import { decodeRecord } from './record.js';

/** Records of consecutive seqs from `first`, as the journal wrote them (no decoding). */
export interface CachedRecords {
  first: number;
  count: number;
  /** The records' total size, an upper bound for any frame that carries them. */
  bytes: number;
  /** Record i (seq first + i) is at offs[i] in bufs[i]. */
  bufs: Buffer[];
  offs: number[];
}

/** Rough per-entry cost of the array slots on top of the record bytes. */
export const ENTRY_OVERHEAD_BYTES = 24;
/** Slab size: a sixteenth of the budget, within these bounds. */
const MIN_SLAB_BYTES = 4096;
const MAX_SLAB_BYTES = 1024 * 1024;
/** Compact the backing arrays once this many evicted slots pile up at the front. */
const COMPACT_AFTER = 4096;

export class TailCache {
  /** bufs[i] holds the record of seq firstSeq + (i - head) at offs[i], sizes[i] bytes long. */
  private bufs: Buffer[] = [];
  private offs: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  /** Seq the next pushed message must have. */
  private next: number;
  private readonly slabBytes: number;
  /** The slab records are copied into, and how much of it is used. */
  private slab: Buffer | undefined;
  private slabUsed = 0;

  constructor(
    private readonly maxBytes: number,
    nextSeq: number,
  ) {
    this.next = nextSeq;
    this.slabBytes = Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, Math.floor(maxBytes / 16)));
  }

  get count(): number {
    return this.bufs.length - this.head;
  }

  /** Oldest cached seq; equals the next seq when empty. */
  get firstSeq(): number {
    return this.next - this.count;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  /**
   * Room for the journal to encode its next group of records into, `bytes` long, at the free
   * end of the current slab (a new slab when it does not fit): when those records are pushed
   * they are already where push would copy them, so they are not copied. Without it every
   * record was written twice into fresh memory, once in the group's own write buffer and once
   * in the slab (7 % of the msgqueue's time in `pipe`, round 5). Undefined when the cache is
   * off or the group is large (over a quarter of a slab): the caller allocates, push copies.
   */
  groupBuffer(bytes: number): Buffer | undefined {
    if (this.maxBytes === 0 || bytes > this.slabBytes / 4) return undefined;
    const slab = this.slabWithRoom(bytes);
    return slab.subarray(this.slabUsed, this.slabUsed + bytes);
  }

  /**
   * Adds the next message (seqs must arrive in order): its record is `recordBytes` at `off` in
   * `buf`. A record already at the slab's free end (written through groupBuffer) stays where
   * it is; any other is copied, and the caller may reuse `buf` afterwards. Memory beyond the
   * byte budget: the unused end of the current slab and an oldest slab some of whose records
   * were evicted, at most two slabs (2 MiB with the default budget, 3 %).
   */
  push(seq: number, buf: Buffer, off: number, recordBytes: number): void {
    if (seq !== this.next) this.clear(seq);
    this.next = seq + 1;
    if (this.maxBytes === 0) return;
    // Slabs start at byte 0 of their memory: a record written through groupBuffer is found by its address.
    const inPlace =
      this.slab !== undefined && buf.buffer === this.slab.buffer && buf.byteOffset + off === this.slabUsed;
    let into: Buffer;
    let at = 0;
    if (!inPlace && recordBytes > this.slabBytes / 4) {
      into = Buffer.allocUnsafeSlow(recordBytes); // a large record gets a buffer of its own
      buf.copy(into, 0, off, off + recordBytes);
    } else {
      into = inPlace ? (this.slab as Buffer) : this.slabWithRoom(recordBytes);
      at = this.slabUsed;
      this.slabUsed += recordBytes;
      if (!inPlace) buf.copy(into, at, off, off + recordBytes);
    }
    this.bufs.push(into);
    this.offs.push(at);
    this.sizes.push(recordBytes);
    this.bytes += recordBytes + ENTRY_OVERHEAD_BYTES;
    while (this.bytes > this.maxBytes && this.count > 0) this.evictOne();
    this.compactIfWorthIt();
  }

  /** The current slab, or a new one when fewer than `bytes` are left in it. */
  private slabWithRoom(bytes: number): Buffer {
    if (this.slab === undefined || this.slabUsed + bytes > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.slabUsed = 0;
    }
    return this.slab;
  }

  /** Forgets messages below `seq` (retention moved the journal's first seq). */
  dropBefore(seq: number): void {
    while (this.count > 0 && this.firstSeq < seq) this.evictOne();
    this.compactIfWorthIt();
  }

  /** Offers cached messages fromSeq..lastSeq to the budget, decoded; false if fromSeq is not cached. */
  collect(fromSeq: number, lastSeq: number, budget: ReadBudget): boolean {
    return this.walk(fromSeq, lastSeq, budget, (i) => budget.out.push(decodeRecord(this.bufs[i], this.offs[i])));
  }

  /** The records of fromSeq..lastSeq the budget admits, undecoded; undefined if fromSeq is not cached. */
  records(fromSeq: number, lastSeq: number, budget: ReadBudget): CachedRecords | undefined {
    const out: CachedRecords = { first: fromSeq, count: 0, bytes: 0, bufs: [], offs: [] };
    const cached = this.walk(fromSeq, lastSeq, budget, (i) => {
      out.bufs.push(this.bufs[i]);
      out.offs.push(this.offs[i]);
      out.count++;
      out.bytes += this.sizes[i];
    });
    return cached ? out : undefined;
  }

  /** Calls `take` with the slot of each cached seq from fromSeq on while the budget admits it. */
  private walk(fromSeq: number, lastSeq: number, budget: ReadBudget, take: (slot: number) => void): boolean {
    if (fromSeq < this.firstSeq || fromSeq >= this.next) return false;
    const stop = Math.min(lastSeq, this.next - 1);
    for (let seq = fromSeq; seq <= stop; seq++) {
      const i = this.head + (seq - this.firstSeq);
      if (!budget.admit(this.sizes[i])) break;
      take(i);
    }
    return true;
  }

  private evictOne(): void {
    this.bytes -= this.sizes[this.head] + ENTRY_OVERHEAD_BYTES;
    // Release the slab reference now (a slab goes with its last record); the slots themselves
    // are reclaimed by compaction.
    this.bufs[this.head] = EMPTY;
    this.head++;
  }

  private clear(nextSeq: number): void {
    this.slab = undefined;
    this.bufs = [];
    this.offs = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
    this.next = nextSeq;
  }

  private compactIfWorthIt(): void {
    if (this.head < COMPACT_AFTER || this.head * 2 < this.bufs.length) return;
    this.bufs = this.bufs.slice(this.head);
    this.offs = this.offs.slice(this.head);
    this.sizes = this.sizes.slice(this.head);
    this.head = 0;
  }
}

const EMPTY = Buffer.alloc(0);
