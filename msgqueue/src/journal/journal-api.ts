// The journal's public contract: options and their defaults, the handle's interface, and
// the limits that are constants. journal.ts re-exports all of it; import from there.

import type { RecoveryReport } from './journal-recovery.js';
import { JournalError, type StoredMessage } from './record.js';
import type { CachedRecords } from './tail-cache.js';

export type FsyncMode = 'always' | 'batch' | 'never';

export interface JournalOptions {
  /** Directory of the segment files; created if missing. */
  dir: string;
  /** always: fsync before append resolves; batch: background fsync every fsyncIntervalMs; never: leave it to the OS. */
  fsync: FsyncMode;
  fsyncIntervalMs: number;
  /** A segment is rolled once it reaches this size (it may pass it by at most one append call). */
  segmentBytes: number;
  /** 0 = unlimited for the three retain* limits. Retention deletes whole sealed segments. */
  retainMessages: number;
  retainBytes: number;
  retainMs: number;
  /** Budget of the in-memory copy of the newest messages. */
  cacheBytes: number;
  /**
   * Seqs below this were handed out before, and consumers may have acknowledged them: new
   * messages never get one, even if the journal lost them (default 1).
   */
  minNextSeq?: number;
}

export const JOURNAL_DEFAULTS: Omit<JournalOptions, 'dir'> = Object.freeze({
  fsync: 'batch' as FsyncMode,
  fsyncIntervalMs: 100,
  segmentBytes: 64 * 1024 * 1024,
  retainMessages: 10_000_000,
  retainBytes: 1024 * 1024 * 1024,
  retainMs: 7 * 24 * 60 * 60 * 1000,
  cacheBytes: 64 * 1024 * 1024,
});

/** Most bytes handed to one write() call; larger backlogs go out in several groups. */
export const JOURNAL_MAX_WRITE_BYTES = 8 * 1024 * 1024;
/** Most bytes of appends waiting for the disk; past it append rejects with JOURNAL_OVERLOADED. */
export const JOURNAL_MAX_PENDING_BYTES = 256 * 1024 * 1024;
/** How often the retention timer looks for expired segments. */
export const JOURNAL_RETENTION_INTERVAL_MS = 1000;

export interface AppendInput {
  topic: string;
  /** Opaque JSON text. */
  data: string;
  ts: number;
  /** Idempotency key. */
  pid?: string;
  /**
   * Instead of a pid: the producer's number for the message, journaled as the pid
   * generatedPid(producer, counter) with the `producer` given to append().
   */
  counter?: number;
}

export interface JournalStats {
  /** write() system calls on segment files. */
  writes: number;
  /** fsyncs of segment files. */
  fsyncs: number;
  appendedMessages: number;
  /** Read calls served (at least partly) from the tail cache / from a segment file. */
  cacheReads: number;
  diskReads: number;
  /** seqAtTime calls that scanned part of a segment file (at most one file each). */
  timeSeeks: number;
  deletedSegments: number;
  unlinkErrors: number;
}

export interface Journal {
  /** Oldest retained seq; lastSeq + 1 when empty. */
  readonly firstSeq: number;
  /** Newest committed seq; 0 when nothing was ever written. */
  readonly lastSeq: number;
  readonly stats: Readonly<JournalStats>;
  readonly recovery: Readonly<RecoveryReport>;
  /** Bytes of the retained segment files on disk: what --retain-bytes bounds. */
  readonly retainedBytes: number;
  /** Bytes dropped by recovery at open: torn tail cut plus unreadable bytes of older segments. */
  readonly recoveredTruncatedBytes: number;
  /**
   * Assigns consecutive seqs in call order; appends of one event-loop turn share one write.
   * `producer` names the generated pids of items that carry a counter.
   */
  append(items: readonly AppendInput[], producer?: string): Promise<StoredMessage[]>;
  /** Messages with seq >= max(fromSeq, firstSeq) in order; at least one if any exists. */
  read(fromSeq: number, maxMessages: number, maxBytes: number): Promise<StoredMessage[]>;
  /**
   * read() without waiting, when the tail cache can answer it: the same messages read() would
   * return, or undefined when fromSeq is not cached (then call read()). Consumers that keep
   * up are served without a Promise per batch.
   */
  readCached(fromSeq: number, maxMessages: number, maxBytes: number): StoredMessage[] | undefined;
  /**
   * readCached() as record bytes, for senders that copy fields out without decoding them: the
   * same seqs readCached would return (count 0: nothing to read), or undefined when fromSeq
   * is not cached. The buffers must not be changed, and are only valid until the next append
   * is written (the cache writes over evicted memory): copy out of them at once.
   */
  readCachedRecords(fromSeq: number, maxMessages: number, maxBytes: number): CachedRecords | undefined;
  /**
   * The seq of the first retained message with ts >= `ms` (ts: the publisher's accept time),
   * or lastSeq + 1 when there is none. Found without scanning the log: segments are skipped by
   * their newest ts, then the segment's time index (segment.ts) narrows it to one index
   * interval, which is read from the file (one open, at most ~1 MiB).
   */
  seqAtTime(ms: number): Promise<number>;
  sync(): Promise<void>;
  /** Runs the retention check now (it also runs after appends and on a timer). */
  applyRetention(): Promise<void>;
  /** Flushes pending appends, fsyncs, closes files, stops timers. Idempotent. */
  close(): Promise<void>;
}

export interface JournalDeps {
  now?: () => number;
}

export function validateOptions(opts: JournalOptions): Readonly<JournalOptions> {
  if (typeof opts?.dir !== 'string' || opts.dir === '') throw invalidOption('dir');
  if (!['always', 'batch', 'never'].includes(opts.fsync)) throw invalidOption('fsync');
  const positive = ['fsyncIntervalMs', 'segmentBytes'] as const;
  const nonNegative = ['retainMessages', 'retainBytes', 'retainMs', 'cacheBytes'] as const;
  for (const key of positive) if (!(Number.isSafeInteger(opts[key]) && opts[key] > 0)) throw invalidOption(key);
  for (const key of nonNegative) if (!(Number.isSafeInteger(opts[key]) && opts[key] >= 0)) throw invalidOption(key);
  const min = opts.minNextSeq;
  if (min !== undefined && !(Number.isSafeInteger(min) && min > 0)) throw invalidOption('minNextSeq');
  return Object.freeze({ ...opts });
}

function invalidOption(key: string): JournalError {
  return new JournalError('INVALID_ARGUMENT', `invalid journal option ${key}`);
}

/** Wraps a system error as JOURNAL_IO, keeping it as the cause; JournalErrors pass through. */
export function asJournalError(err: unknown, what: string): JournalError {
  if (err instanceof JournalError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new JournalError('JOURNAL_IO', `${what}: ${detail}`, { cause: err });
}
