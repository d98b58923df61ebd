/**
 * The one append path shared by v1 producers and legacy pushers: producer-id dedupe, a single
 * journal.append per frame (so arrival order is seq order across all connections), metrics,
 * and waking the consumers once the journal committed.
 */
import { generatedPid } from '@wsq/core';
import { JournalError, type AppendInput, type Journal, type StoredMessage } from '../journal/journal.js';
import type { DedupeIndex } from './dedupe.js';
import { counterAfterPrefix, GENERATED_PREFIX_LENGTH, parseGeneratedPid, type ParsedPid } from './generated-pids.js';
import type { QueueMetrics } from '../queue-metrics.js';

export interface Appender {
  /**
   * Resolves with one seq per item, in item order, once the new ones are in the journal.
   * `producer`: the append frame's producer id, which items with a counter need (their pid is
   * generatedPid(producer, counter)).
   */
  append(items: readonly AppendInput[], producer?: string): Promise<number[]>;
  /** Producer ids whose first append is still on its way to the disk. */
  readonly pendingIds: number;
}

export interface AppenderDeps {
  journal: Journal;
  dedupe: DedupeIndex;
  metrics: QueueMetrics;
  /** Called after every committed append (wakes the consumers). */
  onAppended(): void;
}

/**
 * One journal append (the new items of one frame) whose pids are not in the dedupe index yet.
 * A retry of one of them, on any connection, finds the group by pid and waits for `written`.
 */
interface PendingGroup {
  readonly items: AppendInput[];
  written: Promise<StoredMessage[]> | undefined;
  /** Its generated pids, as runs of consecutive counters (see PendingRun). */
  readonly runs: PendingRun[];
  /** Positions in `items` of its other pids (client ids), each an entry of the in-flight Map. */
  readonly others: number[];
}

/**
 * Generated pids (generated-pids.ts) `first`..`first + count - 1` of one producer, items
 * `index`..`index + count - 1` of `group`. A producer numbers its messages in order, so a
 * frame's pids are mostly one such run: tracking it costs one entry per frame, not per pid.
 */
interface PendingRun {
  readonly producer: string;
  readonly first: number;
  count: number;
  readonly group: PendingGroup;
  readonly index: number;
}

export function createAppender(deps: AppenderDeps): Appender {
  const { journal, dedupe, metrics } = deps;
  // A pid whose append has not resolved yet is not in the dedupe index: a retry arriving
  // meanwhile (on any connection) waits for the original instead of being appended twice.
  // Generated pids are tracked as runs per producer, other pids as one Map entry each; no
  // Promise per message, only per retry. Both are bounded by the in-flight appends
  // (per-connection limit times connections).
  const inFlight = new Map<string, PendingGroup>();
  const pendingRuns = new Map<string, PendingRun[]>();
  let pendingRunIds = 0;
  const parsed: ParsedPid = { producer: '', counter: 0 };

  /** The pending run holding the producer's `counter`, if any. */
  function pendingRunOf(producer: string, counter: number): PendingRun | undefined {
    const runs = pendingRuns.get(producer);
    if (runs) for (const run of runs) if (counter >= run.first && counter < run.first + run.count) return run;
    return undefined;
  }

  function overlapsPending(producer: string, first: number, count: number): boolean {
    const runs = pendingRuns.get(producer);
    if (runs) for (const run of runs) if (first < run.first + run.count && run.first < first + count) return true;
    return false;
  }

  /** Marks counters first..first+count-1 pending in `group`, at its items index.. (extending its last run when adjacent). */
  function addPendingRun(group: PendingGroup, producer: string, first: number, count: number, index: number): void {
    pendingRunIds += count;
    const last = group.runs[group.runs.length - 1];
    if (last?.producer === producer && last.first + last.count === first && last.index + last.count === index) {
      last.count += count;
      return;
    }
    const run: PendingRun = { producer, first, count, group, index };
    group.runs.push(run);
    const runs = pendingRuns.get(producer);
    if (runs) runs.push(run);
    else pendingRuns.set(producer, [run]);
  }

  function release(group: PendingGroup): void {
    for (const run of group.runs) {
      const runs = pendingRuns.get(run.producer) as PendingRun[];
      runs.splice(runs.indexOf(run), 1);
      if (runs.length === 0) pendingRuns.delete(run.producer);
      pendingRunIds -= run.count;
    }
    for (const k of group.others) {
      const pid = group.items[k].pid as string;
      if (inFlight.get(pid) === group) inFlight.delete(pid);
    }
  }

  async function append(items: readonly AppendInput[], frameProducer?: string): Promise<number[]> {
    const seqs: number[] = new Array<number>(items.length);
    const group: PendingGroup = { items: [], written: undefined, runs: [], others: [] };
    const fresh = group.items;
    let freshIndex: number[] | undefined; // fresh[k] answers items[freshIndex[k]], when not k
    let sameFrame: number[] | undefined; // items[i] repeats a pid of fresh[k]: pairs i, k
    let waits: Promise<void>[] | undefined;
    let duplicates = 0;

    function addFresh(i: number): void {
      if (freshIndex) freshIndex.push(i);
      fresh.push(items[i]);
    }

    /** items[i] is a copy of fresh[k] or of the k-th item of another pending group. */
    function duplicate(i: number, known: number | undefined, pending: PendingGroup | undefined, k: number): void {
      if (known !== undefined) seqs[i] = known;
      else if (pending === group) (sameFrame ??= []).push(i, k);
      else if (pending) (waits ??= []).push(seqOf(pending, k, seqs, i));
      duplicates++;
      freshIndex ??= fresh.map((_, f) => f);
    }

    /** One generated pid, the slow way (its run met a known or pending counter). */
    function oneGenerated(i: number, producer: string, counter: number): void {
      const known = dedupe.lookup(items[i].pid ?? generatedPid(producer, counter));
      const pending = known === undefined ? pendingRunOf(producer, counter) : undefined;
      if (known !== undefined || pending) {
        return duplicate(i, known, pending?.group, pending ? pending.index + counter - pending.first : -1);
      }
      addPendingRun(group, producer, counter, 1, fresh.length);
      addFresh(i);
    }

    function otherPid(i: number, pid: string): void {
      const known = dedupe.lookup(pid);
      const pending = known === undefined ? inFlight.get(pid) : undefined;
      if (known !== undefined || pending) {
        return duplicate(i, known, pending, pending ? indexOfPid(pending.items, pid) : -1);
      }
      inFlight.set(pid, group);
      group.others.push(fresh.length);
      addFresh(i);
    }

    /** Items i..end-1 are `producer`'s counters first..: new ones join as one pending run. */
    function generatedRun(i: number, end: number, producer: string, first: number): void {
      const count = end - i;
      if (!dedupe.anyOfRun(producer, first, count) && !overlapsPending(producer, first, count)) {
        addPendingRun(group, producer, first, count, fresh.length);
        for (; i < end; i++) addFresh(i);
      } else {
        for (let k = 0; k < count; k++) oneGenerated(i + k, producer, first + k);
      }
    }

    for (let i = 0; i < items.length;) {
      const counter = items[i].counter;
      if (counter !== undefined) {
        // The publisher's numbered messages: the longest run of consecutive counters.
        if (frameProducer === undefined) throw new JournalError('INVALID_ARGUMENT', 'a counter needs its producer');
        let end = i + 1;
        while (end < items.length && items[end].counter === counter + end - i) end++;
        generatedRun(i, end, frameProducer, counter);
        i = end;
        continue;
      }
      const pid = items[i].pid;
      if (pid === undefined) {
        addFresh(i++);
        continue;
      }
      if (!parseGeneratedPid(pid, parsed)) {
        otherPid(i++, pid);
        continue;
      }
      // The longest run of the next items carrying this producer's next counters.
      const { producer, counter: first } = parsed;
      const prefix = pid.slice(0, GENERATED_PREFIX_LENGTH);
      let end = i + 1;
      for (; end < items.length; end++) {
        const next = items[end].pid;
        if (next === undefined || counterAfterPrefix(next, prefix) !== first + end - i) break;
      }
      generatedRun(i, end, producer, first);
      i = end;
    }
    if (duplicates > 0) metrics.deduplicated.inc(duplicates);
    // Settled here too, so a failing own write cannot leave a retry's rejection unhandled.
    const waited = waits ? Promise.all(waits) : undefined;
    waited?.catch(() => undefined);
    if (fresh.length > 0) {
      const start = performance.now();
      try {
        const written = journal.append(fresh, frameProducer);
        group.written = written;
        const stored = await written;
        metrics.appendDuration.observe((performance.now() - start) / 1000);
        metrics.appended.n += stored.length;
        for (let k = 0; k < stored.length; k++) seqs[freshIndex ? freshIndex[k] : k] = stored[k].seq;
        // One journal.append gives its items consecutive seqs, so a run's seqs start at its first item's.
        for (const run of group.runs) dedupe.rememberRun(run.producer, run.first, run.count, stored[run.index].seq);
        for (const k of group.others) dedupe.remember(stored[k].pid as string, stored[k].seq, stored[k].ts);
        if (sameFrame) for (let j = 0; j < sameFrame.length; j += 2) seqs[sameFrame[j]] = stored[sameFrame[j + 1]].seq;
        deps.onAppended();
      } finally {
        release(group);
      }
    }
    if (waited) await waited;
    return seqs;
  }

  return {
    append,
    get pendingIds() {
      return inFlight.size + pendingRunIds;
    },
  };
}

/** Position of `pid` among a group's items (only for retries and repeats: the rare path). */
function indexOfPid(items: readonly AppendInput[], pid: string): number {
  for (let k = 0; k < items.length; k++) if (items[k].pid === pid) return k;
  throw new Error(`pid not in its pending group`);
}

/** Waits for another frame's append and copies the seq of its k-th item into seqs[i]. */
function seqOf(pending: PendingGroup, k: number, seqs: number[], i: number): Promise<void> {
  // Set before the pid is visible to others: journal.append is called synchronously after the scan.
  const written = pending.written as Promise<StoredMessage[]>;
  return written.then((msgs) => void (seqs[i] = msgs[k].seq));
}
