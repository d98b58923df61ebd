/**
 * The dedupe index of client pids (`user` NUL `id`: what a v1 publisher's ids become), in the
 * order they were remembered. Every acknowledged v1 message carries one, so this is on the
 * publish path of every message a client wants acknowledged.
 *
 * A Map from pid to seq plus three arrays for the expiry order cost 0.9–1.2 µs per message at a
 * million entries: V8's hash table for a million keys misses
 * the caches on every probe, it is rebuilt into fresh memory as it grows and as deletions pile
 * up, and the arrays were compacted by copying. Here the entries sit in a ring of typed arrays
 * (hash, seq, time, live flag) plus one array of the pid strings, and a linear-probing table of
 * ring positions, twice the ring's size, finds them: a lookup hashes the pid and reads a few
 * adjacent table slots. The ring doubles when full and halves when three quarters are free, so
 * memory follows the entries held.
 *
 * A pid remembered again keeps one live entry, the newest (the newest seq wins); its older
 * entry stays in the ring, dead, until it reaches the front. Entries leave from the front only:
 * `dropFront` (expiry and early eviction decide which, in dedupe.ts).
 */

/** Ring slots to start with (a power of two). */
const INITIAL_SLOTS = 1024;
const EMPTY = -1;

export class ClientPidIndex {
  private slots = INITIAL_SLOTS;
  private hashes = new Int32Array(INITIAL_SLOTS);
  private seqs = new Float64Array(INITIAL_SLOTS);
  private ats = new Float64Array(INITIAL_SLOTS);
  private live = new Uint8Array(INITIAL_SLOTS);
  private pids: string[] = new Array<string>(INITIAL_SLOTS).fill('');
  /** Ring positions by hash, linear probing; EMPTY where free. Twice the ring's size. */
  private table = new Int32Array(2 * INITIAL_SLOTS).fill(EMPTY);
  /** Ring position of the front entry; the ring holds `count` entries from there on. */
  private front = 0;
  private count = 0;
  private liveCount = 0;
  /** Mixed into every hash, so which ids collide differs from one process to the next. */
  private readonly seed = (Math.random() * 0x1_0000_0000) | 0;

  /** Live entries (one per pid). */
  get size(): number {
    return this.liveCount;
  }

  /** Entries in the ring, live or dead. */
  get entries(): number {
    return this.count;
  }

  /** When the front entry (live or dead) was remembered; Infinity when the ring is empty. */
  get frontAt(): number {
    return this.count === 0 ? Infinity : this.ats[this.front];
  }

  lookup(pid: string): number | undefined {
    const slot = this.find(pid, this.hash(pid));
    return slot < 0 ? undefined : this.seqs[this.table[slot]];
  }

  /** Remembers `pid` with `seq` at time `at` (not before the last entry's). */
  remember(pid: string, seq: number, at: number): void {
    const h = this.hash(pid);
    const found = this.find(pid, h);
    if (found >= 0) {
      this.live[this.table[found]] = 0;
      this.liveCount--;
      this.removeSlot(found);
    }
    if (this.count === this.slots) this.resize(this.slots * 2);
    const pos = (this.front + this.count) & (this.slots - 1);
    this.hashes[pos] = h;
    this.seqs[pos] = seq;
    this.ats[pos] = at;
    this.live[pos] = 1;
    this.pids[pos] = pid;
    this.count++;
    this.liveCount++;
    this.insert(pos);
  }

  /** Drops the front entry; true if it was live (its pid is forgotten), false if it was dead or there was none. */
  dropFront(): boolean {
    if (this.count === 0) return false;
    const pos = this.front;
    const wasLive = this.live[pos] === 1;
    if (wasLive) {
      this.removeSlot(this.slotOf(pos));
      this.live[pos] = 0;
      this.liveCount--;
    }
    this.pids[pos] = '';
    this.front = (pos + 1) & (this.slots - 1);
    this.count--;
    if (this.slots > INITIAL_SLOTS && this.count <= this.slots / 4) this.resize(this.slots / 2);
    return wasLive;
  }

  /** FNV-1a over the UTF-16 code units, from a per-process seed. */
  private hash(pid: string): number {
    let h = this.seed ^ 0x811c9dc5;
    for (let i = 0; i < pid.length; i++) h = Math.imul(h ^ pid.charCodeAt(i), 0x01000193);
    return h;
  }

  /** The table slot holding `pid`, or -1. */
  private find(pid: string, h: number): number {
    const mask = this.table.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const pos = this.table[i];
      if (pos === EMPTY) return -1;
      if (this.hashes[pos] === h && this.pids[pos] === pid) return i;
    }
  }

  /** The table slot holding ring position `pos` (which is live, so it is in the table). */
  private slotOf(pos: number): number {
    const mask = this.table.length - 1;
    for (let i = this.hashes[pos] & mask, n = 0; n <= mask; i = (i + 1) & mask, n++)
      if (this.table[i] === pos) return i;
    // Unreachable while the table is consistent; a bug here must fail loudly, not spin forever.
    throw new Error('client pid index: a live entry is missing from its table');
  }

  private insert(pos: number): void {
    const mask = this.table.length - 1;
    let i = this.hashes[pos] & mask;
    while (this.table[i] !== EMPTY) i = (i + 1) & mask;
    this.table[i] = pos;
  }

  /**
   * Empties table slot `i`, moving later entries of its probe run back into the gap so every
   * entry stays reachable from its home slot without tombstones.
   */
  private removeSlot(i: number): void {
    const table = this.table;
    const mask = table.length - 1;
    let gap = i;
    for (let j = (gap + 1) & mask; table[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.hashes[table[j]] & mask;
      // The entry at j may fill the gap unless its home lies cyclically in (gap, j].
      const homeAfterGap = gap <= j ? home > gap && home <= j : home > gap || home <= j;
      if (!homeAfterGap) {
        table[gap] = table[j];
        gap = j;
      }
    }
    table[gap] = EMPTY;
  }

  /** Moves the ring, in order, into `slots` slots from position 0, and rebuilds the table. */
  private resize(slots: number): void {
    const old = { hashes: this.hashes, seqs: this.seqs, ats: this.ats, live: this.live, pids: this.pids };
    const oldMask = this.slots - 1;
    this.slots = slots;
    this.hashes = new Int32Array(slots);
    this.seqs = new Float64Array(slots);
    this.ats = new Float64Array(slots);
    this.live = new Uint8Array(slots);
    this.pids = new Array<string>(slots).fill('');
    this.table = new Int32Array(2 * slots).fill(EMPTY);
    for (let k = 0; k < this.count; k++) {
      const from = (this.front + k) & oldMask;
      this.hashes[k] = old.hashes[from];
      this.seqs[k] = old.seqs[from];
      this.ats[k] = old.ats[from];
      this.live[k] = old.live[from];
      this.pids[k] = old.pids[from];
      if (this.live[k] === 1) this.insert(k);
    }
    this.front = 0;
  }
}
