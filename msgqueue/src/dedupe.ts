// Idempotent publish: remembers which producer id (pid) got which seq, for a time window,
// so a producer retrying after a lost ack gets the original seq instead of a duplicate.

import type { Journal } from './journal.js';

export interface DedupeOptions {
  /** How long a pid is remembered after remember(). 0 disables dedupe. */
  windowMs: number;
  /**
   * Most pids remembered. Past it the oldest ids are forgotten early, before their window
   * ends (counted in stats.evictedEarly): a retry of such an id would be appended again.
   */
  maxEntries: number;
}

export const DEDUPE_DEFAULTS: DedupeOptions = Object.freeze({ windowMs: 120_000, maxEntries: 1_000_000 });

export class DedupeError extends Error {
  readonly code = 'INVALID_ARGUMENT' as const;
  constructor(message: string) {
    super(message);
    this.name = 'DedupeError';
  }
}

export interface DedupeStats {
  /** lookups that found an earlier seq */
  hits: number;
  /** entries dropped because their window ended */
  expired: number;
  /** entries dropped before their window ended, because of maxEntries */
  evictedEarly: number;
}

export interface DedupeIndex {
  readonly windowMs: number;
  /** Entries currently held. */
  readonly size: number;
  readonly stats: Readonly<DedupeStats>;
  /** Seq of the earlier message with this pid, if it is still inside the window. */
  lookup(pid: string): number | undefined;
  /**
   * Starts the pid's window now. `ts` (the message timestamp) is not the anchor on purpose:
   * a message that waited in a publisher outbox during an outage is old when it is appended,
   * yet a retry after a lost ack must still find it.
   */
  remember(pid: string, seq: number, ts: number): void;
}

interface Entry {
  seq: number;
  /** When it was remembered (deps.now clock). */
  at: number;
}

export function createDedupeIndex(opts: Partial<DedupeOptions> = {}, deps: { now?: () => number } = {}): DedupeIndex {
  const { windowMs, maxEntries } = { ...DEDUPE_DEFAULTS, ...opts };
  if (!(Number.isSafeInteger(windowMs) && windowMs >= 0)) throw new DedupeError('windowMs must be an integer >= 0');
  if (!(Number.isSafeInteger(maxEntries) && maxEntries >= 1)) throw new DedupeError('maxEntries must be >= 1');
  const now = deps.now ?? Date.now;
  // Insertion order is `at` order, so expired entries are always at the front.
  const entries = new Map<string, Entry>();
  const stats: DedupeStats = { hits: 0, expired: 0, evictedEarly: 0 };

  /** Drops expired entries from the front; stops at the first live one (amortised O(1)). */
  function expireFront(cutoff: number): void {
    for (const [pid, entry] of entries) {
      if (entry.at >= cutoff) return;
      entries.delete(pid);
      stats.expired++;
    }
  }

  function evictOverflow(): void {
    for (const pid of entries.keys()) {
      if (entries.size <= maxEntries) return;
      entries.delete(pid);
      stats.evictedEarly++;
    }
  }

  return {
    windowMs,
    stats,
    get size() {
      return entries.size;
    },
    lookup(pid) {
      if (windowMs === 0) return undefined;
      const cutoff = now() - windowMs;
      expireFront(cutoff);
      const entry = entries.get(pid);
      // Checked again: if the clock stepped back, an expired entry can sit behind a live one.
      if (entry === undefined || entry.at < cutoff) return undefined;
      stats.hits++;
      return entry.seq;
    },
    remember(pid, seq, _ts) {
      if (windowMs === 0) return;
      const at = now();
      expireFront(at - windowMs);
      entries.delete(pid); // re-insert at the back: keeps `at` order; the newest seq wins
      entries.set(pid, { seq, at });
      evictOverflow();
    },
  };
}

/** Messages per read while rebuilding. */
const REBUILD_BATCH_MESSAGES = 1000;
const REBUILD_BATCH_BYTES = 1024 * 1024;

export type DedupeJournal = Pick<Journal, 'firstSeq' | 'lastSeq' | 'read'>;

/**
 * Reloads the index from the journal after a restart: every record with a pid whose ts is
 * inside the window [now - windowMs, now]; each gets a fresh window from the rebuild on. Finds the first such seq by binary search on ts (O(log n) small reads),
 * then reads forward. Returns how many pids were remembered.
 */
export async function rebuildDedupe(journal: DedupeJournal, index: DedupeIndex, now: number): Promise<number> {
  if (index.windowMs === 0) return 0;
  const cutoff = now - index.windowMs;
  const last = journal.lastSeq;
  let from = await firstSeqAtOrAfter(journal, cutoff, last);
  let remembered = 0;
  while (from <= last) {
    const batch = await journal.read(from, REBUILD_BATCH_MESSAGES, REBUILD_BATCH_BYTES);
    if (batch.length === 0) break;
    for (const msg of batch) {
      if (msg.seq > last) return remembered;
      if (msg.pid === undefined || msg.ts < cutoff) continue;
      index.remember(msg.pid, msg.seq, msg.ts);
      remembered++;
    }
    from = batch[batch.length - 1].seq + 1;
  }
  return remembered;
}

/** Lowest seq whose message has ts >= cutoff, assuming ts grows with seq; last + 1 if none. */
async function firstSeqAtOrAfter(journal: DedupeJournal, cutoff: number, last: number): Promise<number> {
  let lo = journal.firstSeq;
  let hi = last + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const [msg] = await journal.read(mid, 1, 1);
    if (msg === undefined || msg.seq >= hi || msg.ts >= cutoff) hi = mid;
    else lo = msg.seq + 1;
  }
  return lo;
}
