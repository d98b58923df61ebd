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
// a ring of slots; per slab (up to 1 MiB of records), one Buffer, written over again once its
// records are evicted. Records handed out by records() point into the slabs: a reader copies
// them before the next push (the pump builds its frame from them at once).

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

/**
 * Per-entry cost counted against the budget on top of the record bytes. A slot is 16 bytes (a
 * reference and two int32s) and the ring holds one to four slots per entry (one to two while
 * it grows), so this is the usual cost, not a bound: after a burst of tiny records the ring
 * can outweigh it until it halves, never by more than the budget's slots at four per entry.
 */
export const ENTRY_OVERHEAD_BYTES = 24;
/** Slab size: a sixteenth of the budget, within these bounds. */
const MIN_SLAB_BYTES = 4096;
const MAX_SLAB_BYTES = 1024 * 1024;
/** Slots the ring starts with; it doubles when full and halves when three quarters are free. */
const MIN_SLOTS = 1024;

/** A slab that no longer takes records, and the last seq written into it. */
interface RetiredSlab {
  slab: Buffer;
  lastSeq: number;
}

export class TailCache {
  // The slots are a ring of fixed-size arrays: slot (head + k) & mask holds seq firstSeq + k,
  // its record at offs[slot] in bufs[slot], sizes[slot] bytes long. Growable JS arrays that were
  // sliced to compact them reallocated and copied hundreds of thousands of slots again and
  // again, in fresh memory each time: growing them was 8 % of the msgqueue's time in `pipe`
  // and most of its page faults.
  private bufs: Buffer[];
  private offs: Int32Array;
  private sizes: Int32Array;
  private mask: number;
  private head = 0;
  private n = 0;
  private bytes = 0;
  /** Seq the next pushed message must have. */
  private next: number;
  private readonly slabBytes: number;
  /** The slab records are copied into, how much of it is used, and the last seq put there. */
  private slab: Buffer | undefined;
  private slabUsed = 0;
  private slabLastSeq = 0;
  /**
   * Slabs that were filled, oldest first, until their last record is evicted; then the newest
   * such becomes `spare` and is written over by the next slab instead of new memory. Each first
   * write to a fresh page is a page fault, and on this kind of VM a costly one: allocating a new
   * MiB per MiB of records was about 5 % of the msgqueue's time in `pipe`.
   */
  private readonly retired: RetiredSlab[] = [];
  private spare: Buffer | undefined;

  constructor(
    private readonly maxBytes: number,
    nextSeq: number,
  ) {
    this.next = nextSeq;
    this.slabBytes = Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, Math.floor(maxBytes / 16)));
    this.bufs = new Array<Buffer>(MIN_SLOTS).fill(EMPTY);
    this.offs = new Int32Array(MIN_SLOTS);
    this.sizes = new Int32Array(MIN_SLOTS);
    this.mask = MIN_SLOTS - 1;
  }

  get count(): number {
    return this.n;
  }

  /** Oldest cached seq; equals the next seq when empty. */
  get firstSeq(): number {
    return this.next - this.n;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  /**
   * Room for the journal to encode its next group of records into, `bytes` long, at the free
   * end of the current slab (a new slab when it does not fit): when those records are pushed
   * they are already where push would copy them, so they are not copied. Without it every
   * record was written twice into fresh memory, once in the group's own write buffer and once
   * in the slab (7 % of the msgqueue's time in `pipe`). Undefined when the cache is
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
   * byte budget: the unused end of the current slab, an oldest slab some of whose records
   * were evicted and one spare slab, at most three slabs (3 MiB with the default budget, 5 %).
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
      this.slabLastSeq = seq;
      if (!inPlace) buf.copy(into, at, off, off + recordBytes);
    }
    if (this.n > this.mask) this.resize((this.mask + 1) * 2);
    const slot = (this.head + this.n) & this.mask;
    this.bufs[slot] = into;
    this.offs[slot] = at;
    this.sizes[slot] = recordBytes;
    this.n++;
    this.bytes += recordBytes + ENTRY_OVERHEAD_BYTES;
    while (this.bytes > this.maxBytes && this.n > 0) this.evictOne();
  }

  /** The current slab, or the next one (the spare, else new memory) when fewer than `bytes` are left in it. */
  private slabWithRoom(bytes: number): Buffer {
    if (this.slab === undefined || this.slabUsed + bytes > this.slab.length) {
      // Released by the eviction that takes its last record (or by a later one, if gone already).
      if (this.slab !== undefined && this.slabUsed > 0)
        this.retired.push({ slab: this.slab, lastSeq: this.slabLastSeq });
      this.slab = this.spare ?? Buffer.allocUnsafeSlow(this.slabBytes);
      this.spare = undefined;
      this.slabUsed = 0;
    }
    return this.slab;
  }

  /** Forgets messages below `seq` (retention moved the journal's first seq). */
  dropBefore(seq: number): void {
    while (this.n > 0 && this.firstSeq < seq) this.evictOne();
  }

  /** Offers cached messages fromSeq..lastSeq to the budget, decoded; false if fromSeq is not cached. */
  collect(fromSeq: number, lastSeq: number, budget: ReadBudget): boolean {
    return this.walk(fromSeq, lastSeq, budget, (i) => budget.out.push(decodeRecord(this.bufs[i], this.offs[i])));
  }

  /**
   * The records of fromSeq..lastSeq the budget admits, undecoded; undefined if fromSeq is not
   * cached. They stay valid until the next push (an evicted slab is written over): copy first.
   */
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
    const first = this.firstSeq;
    for (let seq = fromSeq; seq <= stop; seq++) {
      const slot = (this.head + (seq - first)) & this.mask;
      if (!budget.admit(this.sizes[slot])) break;
      take(slot);
    }
    return true;
  }

  private evictOne(): void {
    const slot = this.head;
    const seq = this.firstSeq;
    this.bytes -= this.sizes[slot] + ENTRY_OVERHEAD_BYTES;
    this.bufs[slot] = EMPTY; // a slab goes with its last record
    this.head = (slot + 1) & this.mask;
    this.n--;
    while (this.retired.length > 0 && this.retired[0].lastSeq <= seq) this.release();
    if (this.mask + 1 > MIN_SLOTS && this.n <= (this.mask + 1) / 4) this.resize((this.mask + 1) / 2);
  }

  /** The oldest retired slab holds no record any more: it becomes the spare. */
  private release(): void {
    // Shifting is fine: at most a budget's worth of slabs (16, or budget / 1 MiB) wait here.
    const { slab } = this.retired.shift() as RetiredSlab;
    if (slab.length === this.slabBytes) this.spare = slab;
  }

  /** Moves the slots, oldest first, into a ring of `slots` (a power of two, at least n). */
  private resize(slots: number): void {
    const bufs = new Array<Buffer>(slots).fill(EMPTY);
    const offs = new Int32Array(slots);
    const sizes = new Int32Array(slots);
    for (let k = 0; k < this.n; k++) {
      const from = (this.head + k) & this.mask;
      bufs[k] = this.bufs[from];
      offs[k] = this.offs[from];
      sizes[k] = this.sizes[from];
    }
    this.bufs = bufs;
    this.offs = offs;
    this.sizes = sizes;
    this.mask = slots - 1;
    this.head = 0;
  }

  private clear(nextSeq: number): void {
    this.slab = undefined;
    this.spare = undefined;
    this.retired.length = 0;
    this.bufs.fill(EMPTY);
    this.head = 0;
    this.n = 0;
    this.bytes = 0;
    this.next = nextSeq;
  }
}

const EMPTY = Buffer.alloc(0);
