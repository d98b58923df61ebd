// The dedupe index for the pids publishers generate, `wsq:<producer>:<counter base 36>`
// (core/src/generated-pid.ts), one per message without a client id: that is nearly every
// message. A producer's counter only grows and its messages are mostly appended in counter
// order, so instead of one Map entry per pid this keeps, per producer, runs of consecutive
// counters with their seqs as segments of consecutive seqs: remembering a frame's messages is
// a number or two, a lookup is a short search, and no pid string is retained.

import { GENERATED_PID_START, isProducerId, PRODUCER_ID_LENGTH } from '@wsq/core';
import { floorIndex } from '../journal/sorted.js';

/** The part of a generated pid before the counter: `wsq:` + 12 base64url characters + `:`. */
export const GENERATED_PREFIX_LENGTH = GENERATED_PID_START.length + PRODUCER_ID_LENGTH + 1;
const PREFIX_LENGTH = GENERATED_PREFIX_LENGTH;
/** Base-36 digits that still parse to an exact integer (36^10 < 2^53). */
const MAX_COUNTER_DIGITS = 10;

/** Parsed generated pid; reused between calls so the hot path allocates only the prefix slice. */
export interface ParsedPid {
  producer: string;
  counter: number;
}

/**
 * Splits a generated pid; false for anything else (client ids, and any pid that is not in the
 * canonical form, e.g. a counter with a leading zero, so two spellings never share an entry).
 */
export function parseGeneratedPid(pid: string, out: ParsedPid): boolean {
  if (!pid.startsWith(GENERATED_PID_START) || pid.charCodeAt(PREFIX_LENGTH - 1) !== 0x3a) return false;
  const counter = counterAt(pid);
  if (counter < 0) return false;
  const producer = pid.slice(GENERATED_PID_START.length, PREFIX_LENGTH - 1);
  if (!isProducerId(producer)) return false;
  out.producer = producer;
  out.counter = counter;
  return true;
}

/**
 * The counter of `pid` when it is a canonical generated pid starting with `prefix` (the first
 * GENERATED_PREFIX_LENGTH characters of a pid parseGeneratedPid accepted), else -1. Checks only
 * the counter digits: how a frame's run of one producer's pids is followed cheaply.
 */
export function counterAfterPrefix(pid: string, prefix: string): number {
  return pid.startsWith(prefix) ? counterAt(pid) : -1;
}

/** The base-36 counter after the prefix, canonical (no leading zero, at most 10 digits), else -1. */
function counterAt(pid: string): number {
  const n = pid.length;
  if (n <= PREFIX_LENGTH || n > PREFIX_LENGTH + MAX_COUNTER_DIGITS) return -1;
  if (pid.charCodeAt(PREFIX_LENGTH) === 0x30 && n > PREFIX_LENGTH + 1) return -1; // leading zero
  let counter = 0;
  for (let i = PREFIX_LENGTH; i < n; i++) {
    const digit = base36(pid.charCodeAt(i));
    if (digit < 0) return -1;
    counter = counter * 36 + digit;
  }
  return counter;
}

function base36(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 10;
  return -1;
}

/**
 * Counters first..first+count-1 of one producer, remembered between `start` and `last`. Their
 * seqs are kept as segments of consecutive seqs: counter first + at[j] + k has seq seq[j] + k,
 * up to the next segment. The messages of one append get consecutive seqs, so a run holds a
 * segment per append at most (one for all of them while one producer has the queue to itself),
 * not a number per message: an array of one number per message grew by copying itself into
 * fresh memory, 4 % of the msgqueue's time in `pipe`.
 */
interface Run {
  readonly producer: string;
  readonly first: number;
  count: number;
  readonly at: number[];
  readonly seq: number[];
  readonly start: number;
  last: number;
}

/** Seq of the run's i-th counter (0 <= i < count). */
function seqAt(run: Run, i: number): number {
  const j = segmentOf(run, i);
  return run.seq[j] + i - run.at[j];
}

/** Index of the segment holding the run's i-th counter: the last one starting at or before i (at[0] is 0). */
function segmentOf(run: Run, i: number): number {
  return floorIndex(run.at, i);
}

/** Appends `count` counters with the seqs firstSeq.. to the run. */
function extend(run: Run, count: number, firstSeq: number): void {
  const j = run.at.length - 1;
  if (run.seq[j] + run.count - run.at[j] !== firstSeq) {
    run.at.push(run.count);
    run.seq.push(firstSeq);
  }
  run.count += count;
}

/** Gives the run's i-th counter the seq `seq` (remembered again: the newest seq wins). */
function setSeq(run: Run, i: number, seq: number): void {
  const j = segmentOf(run, i);
  const old = run.seq[j] + i - run.at[j];
  if (old === seq) return;
  const end = j + 1 < run.at.length ? run.at[j + 1] : run.count;
  // Split segment j into [at[j], i), [i] and (i, end), keeping the parts that are not empty.
  const parts: [number, number][] = [];
  if (i > run.at[j]) parts.push([run.at[j], run.seq[j]]);
  parts.push([i, seq]);
  if (i + 1 < end) parts.push([i + 1, old + 1]);
  run.at.splice(j, 1, ...parts.map((p) => p[0]));
  run.seq.splice(j, 1, ...parts.map((p) => p[1]));
}

export class GeneratedPidIndex {
  /** Per producer, its live runs ascending by `first`; they never overlap. */
  private readonly producers = new Map<string, Run[]>();
  /** Every live run, oldest `start` first (expiry order). */
  private queue: Run[] = [];
  private head = 0;
  private entries = 0;
  private readonly parsed: ParsedPid = { producer: '', counter: 0 };

  /**
   * @param runSpanMs a run stops growing after this long, so an entry outlives its window by
   *   at most this much (expiry drops whole runs, once their newest entry's window ended)
   */
  constructor(private readonly runSpanMs: number) {}

  /** Entries held. */
  get size(): number {
    return this.entries;
  }

  /** `start` of the oldest run (Infinity when empty), to pick what to evict first. */
  get oldestAt(): number {
    return this.head < this.queue.length ? this.queue[this.head].start : Infinity;
  }

  /** Seq of a generated pid; null when `pid` is not a generated one (use the general index). */
  lookup(pid: string): number | undefined | null {
    if (!parseGeneratedPid(pid, this.parsed)) return null;
    const runs = this.producers.get(this.parsed.producer);
    if (runs === undefined) return undefined;
    const run = runs[findRun(runs, this.parsed.counter)];
    return run === undefined ? undefined : seqAt(run, this.parsed.counter - run.first);
  }

  /** Whether any of the producer's counters first..first+count-1 is held. */
  anyOf(producer: string, first: number, count: number): boolean {
    const runs = this.producers.get(producer);
    if (runs === undefined) return false;
    for (let i = runs.length - 1; i >= 0; i--) {
      const run = runs[i];
      if (run.first < first + count) return first < run.first + run.count;
    }
    return false;
  }

  /** Remembers a generated pid; false when `pid` is not a generated one. */
  remember(pid: string, seq: number, at: number): boolean {
    if (!parseGeneratedPid(pid, this.parsed)) return false;
    this.rememberRun(this.parsed.producer, this.parsed.counter, 1, seq, at);
    return true;
  }

  /** Remembers the producer's counters first..first+count-1 with the seqs firstSeq.. (in order). */
  rememberRun(producer: string, first: number, count: number, firstSeq: number, at: number): void {
    let runs = this.producers.get(producer);
    if (runs === undefined) this.producers.set(producer, (runs = []));
    const tail = runs[runs.length - 1];
    if (tail !== undefined && first === tail.first + tail.count && at - tail.start < this.runSpanMs) {
      // The common case: the next counters of the newest run.
      extend(tail, count, firstSeq);
      tail.last = at;
      this.entries += count;
      return;
    }
    for (let k = 0; k < count; k++) this.rememberOne(runs, producer, first + k, firstSeq + k, at);
  }

  private rememberOne(runs: Run[], producer: string, counter: number, seq: number, at: number): void {
    const tail = runs[runs.length - 1];
    if (tail !== undefined && counter === tail.first + tail.count && at - tail.start < this.runSpanMs) {
      extend(tail, 1, seq);
      tail.last = at;
      this.entries++;
      return;
    }
    const i = findRun(runs, counter);
    if (i >= 0) {
      setSeq(runs[i], counter - runs[i].first, seq); // remembered again: the newest seq wins
      runs[i].last = at;
      return;
    }
    const run: Run = { producer, first: counter, count: 1, at: [0], seq: [seq], start: at, last: at };
    runs.splice(insertionPoint(runs, counter), 0, run);
    this.queue.push(run);
    this.entries++;
  }

  /** Drops the oldest run if every entry in it was remembered before `cutoff`; returns how many entries went. */
  expireOldest(cutoff: number): number {
    const run = this.queue[this.head];
    if (run === undefined || run.last >= cutoff) return 0;
    return this.dropOldest();
  }

  /** Drops the oldest run whatever its age; returns how many entries went. */
  dropOldest(): number {
    const run = this.queue[this.head];
    if (run === undefined) return 0;
    this.queue[this.head++] = undefined as unknown as Run;
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const runs = this.producers.get(run.producer) as Run[];
    runs.splice(runs.indexOf(run), 1);
    if (runs.length === 0) this.producers.delete(run.producer);
    this.entries -= run.count;
    return run.count;
  }
}

/** Index of the run holding `counter`, or -1. Runs are few per producer; newest checked first. */
function findRun(runs: readonly Run[], counter: number): number {
  for (let i = runs.length - 1; i >= 0; i--) {
    const run = runs[i];
    if (counter >= run.first) return counter < run.first + run.count ? i : -1;
  }
  return -1;
}

/** Where a run starting at `counter` keeps `runs` sorted by first counter. */
function insertionPoint(runs: readonly Run[], counter: number): number {
  let i = runs.length;
  while (i > 0 && runs[i - 1].first > counter) i--;
  return i;
}
