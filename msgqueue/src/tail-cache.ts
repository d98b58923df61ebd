// Bounded in-memory copy of the newest journal messages, so subscribers that keep up
// are served without touching the disk. Holds a contiguous run of seqs ending at the
// journal's last committed seq; evicts from the oldest end past `maxBytes`.

import type { ReadBudget } from './segment.js';
import type { StoredMessage } from './record.js';

/** Rough per-entry cost of the JS objects on top of the record bytes. */
const ENTRY_OVERHEAD_BYTES = 96;
/** Compact the backing arrays once this many evicted slots pile up at the front. */
const COMPACT_AFTER = 4096;

export class TailCache {
  private msgs: StoredMessage[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  /** Seq the next pushed message must have. */
  private next: number;

  constructor(
    private readonly maxBytes: number,
    nextSeq: number,
  ) {
    this.next = nextSeq;
  }

  get count(): number {
    return this.msgs.length - this.head;
  }

  /** Oldest cached seq; equals the next seq when empty. */
  get firstSeq(): number {
    return this.next - this.count;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  /** Adds the next message (seqs must arrive in order); `recordBytes` is its on-disk size. */
  push(msg: StoredMessage, recordBytes: number): void {
    if (msg.seq !== this.next) this.clear(msg.seq);
    this.next = msg.seq + 1;
    if (this.maxBytes === 0) return;
    this.msgs.push(msg);
    this.sizes.push(recordBytes);
    this.bytes += recordBytes + ENTRY_OVERHEAD_BYTES;
    while (this.bytes > this.maxBytes && this.count > 0) this.evictOne();
    this.compactIfWorthIt();
  }

  /** Forgets messages below `seq` (retention moved the journal's first seq). */
  dropBefore(seq: number): void {
    while (this.count > 0 && this.firstSeq < seq) this.evictOne();
    this.compactIfWorthIt();
  }

  /** Offers cached messages fromSeq..lastSeq to the budget; false if fromSeq is not cached. */
  collect(fromSeq: number, lastSeq: number, budget: ReadBudget): boolean {
    if (fromSeq < this.firstSeq || fromSeq >= this.next) return false;
    const stop = Math.min(lastSeq, this.next - 1);
    for (let seq = fromSeq; seq <= stop; seq++) {
      const i = this.head + (seq - this.firstSeq);
      if (!budget.offer(this.msgs[i], this.sizes[i])) break;
    }
    return true;
  }

  private evictOne(): void {
    this.bytes -= this.sizes[this.head] + ENTRY_OVERHEAD_BYTES;
    // Release the references now; the slots themselves are reclaimed by compaction.
    this.msgs[this.head] = undefined as unknown as StoredMessage;
    this.head++;
  }

  private clear(nextSeq: number): void {
    this.msgs = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
    this.next = nextSeq;
  }

  private compactIfWorthIt(): void {
    if (this.head < COMPACT_AFTER || this.head * 2 < this.msgs.length) return;
    this.msgs = this.msgs.slice(this.head);
    this.sizes = this.sizes.slice(this.head);
    this.head = 0;
  }
}
