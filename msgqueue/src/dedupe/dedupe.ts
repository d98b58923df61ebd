// Idempotent publish: remembers which producer id (pid) got which seq, for a time window,
// so a producer retrying after a lost ack gets the original seq instead of a duplicate.

import { ClientPidIndex } from './client-pids.js';
import { GeneratedPidIndex } from './generated-pids.js';
import type { Journal } from '../journal/journal.js';

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
  /**
   * lookup() for a run of generated pids (generated-pids.ts) at once: whether any of the
   * producer's counters first..first+count-1 is remembered. A publisher's frame is mostly one
   * such run, so the common answer (none) costs one check per frame instead of one per pid.
   */
  anyOfRun(producer: string, first: number, count: number): boolean;
  /** remember() for the producer's counters first..first+count-1, which got seqs firstSeq.. in order. */
  rememberRun(producer: string, first: number, count: number, firstSeq: number): void;
}

/**
 * Generated pids are expired in runs that grow for at most windowMs / this: such an id is
 * remembered for its window plus at most that much (never less than the window).
 */
const RUN_SPAN_DIVISOR = 16;

export function createDedupeIndex(opts: Partial<DedupeOptions> = {}, deps: { now?: () => number } = {}): DedupeIndex {
  const { windowMs, maxEntries } = { ...DEDUPE_DEFAULTS, ...opts };
  if (!(Number.isSafeInteger(windowMs) && windowMs >= 0)) throw new DedupeError('windowMs must be an integer >= 0');
  if (!(Number.isSafeInteger(maxEntries) && maxEntries >= 1)) throw new DedupeError('maxEntries must be >= 1');
  const now = deps.now ?? Date.now;
  // Publisher-generated pids get their own compact index (runs of counters); client ids
  // (`user` NUL id) and anything else get a ring-and-table index of their own. Each keeps its
  // entries in the order they were remembered, so expiry only looks at the fronts.
  const generated = new GeneratedPidIndex(Math.max(1, Math.floor(windowMs / RUN_SPAN_DIVISOR)));
  const clients = new ClientPidIndex();
  // `at` never goes back, so both orders stay sorted by time: after a clock step back an entry
  // is kept a little longer than the window, never shorter.
  let lastAt = -Infinity;
  const stats: DedupeStats = { hits: 0, expired: 0, evictedEarly: 0 };

  function expireFront(cutoff: number): void {
    while (clients.frontAt < cutoff) if (clients.dropFront()) stats.expired++;
    for (let n = generated.expireOldest(cutoff); n > 0; n = generated.expireOldest(cutoff)) stats.expired += n;
  }

  /** Past maxEntries (or with too many re-remembered client entries held) the oldest go early. */
  function evictOverflow(): void {
    while (clients.size + generated.size > maxEntries) {
      if (generated.oldestAt < clients.frontAt) stats.evictedEarly += generated.dropOldest();
      else if (clients.dropFront()) stats.evictedEarly++;
    }
    while (clients.entries > 2 * maxEntries) if (clients.dropFront()) stats.evictedEarly++;
  }

  /** Now (never before an earlier remember), after expiring what the window left behind. */
  function rememberAt(): number {
    const at = Math.max(now(), lastAt);
    lastAt = at;
    expireFront(at - windowMs);
    return at;
  }

  return {
    windowMs,
    stats,
    get size() {
      return clients.size + generated.size;
    },
    lookup(pid) {
      if (windowMs === 0) return undefined;
      expireFront(now() - windowMs);
      const found = generated.lookup(pid);
      const seq = found === null ? clients.lookup(pid) : found;
      if (seq !== undefined) stats.hits++;
      return seq;
    },
    anyOfRun(producer, first, count) {
      if (windowMs === 0) return false;
      expireFront(now() - windowMs);
      return generated.anyOf(producer, first, count);
    },
    rememberRun(producer, first, count, firstSeq) {
      if (windowMs === 0) return;
      const at = rememberAt();
      generated.rememberRun(producer, first, count, firstSeq, at);
      evictOverflow();
    },
    remember(pid, seq, _ts) {
      if (windowMs === 0) return;
      const at = rememberAt();
      if (!generated.remember(pid, seq, at)) clients.remember(pid, seq, at); // the newest seq wins
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
