/**
 * The one append path shared by v1 producers and legacy pushers: producer-id dedupe, a single
 * journal.append per frame (so arrival order is seq order across all connections), metrics,
 * and waking the consumers once the journal committed.
 */
import type { AppendInput, Journal, StoredMessage } from './journal.js';
import type { DedupeIndex } from './dedupe.js';
import type { QueueMetrics } from './queue-metrics.js';

export interface Appender {
  /** Resolves with one seq per item, in item order, once the new ones are in the journal. */
  append(items: readonly AppendInput[]): Promise<number[]>;
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
}

export function createAppender(deps: AppenderDeps): Appender {
  const { journal, dedupe, metrics } = deps;
  // A pid whose append has not resolved yet is not in the dedupe index: a retry arriving
  // meanwhile (on any connection) waits for the original instead of being appended twice.
  // Publishers give every message a pid, so this costs one Map entry per pid and nothing
  // else: no Promise per message, only per retry. Bounded by the in-flight appends
  // (per-connection limit times connections).
  const inFlight = new Map<string, PendingGroup>();

  async function append(items: readonly AppendInput[]): Promise<number[]> {
    const seqs: number[] = new Array<number>(items.length);
    const group: PendingGroup = { items: [], written: undefined };
    const fresh = group.items;
    let freshIndex: number[] | undefined; // fresh[k] answers items[freshIndex[k]], when not k
    let sameFrame: number[] | undefined; // items[i] repeats a pid of fresh[k]: pairs i, k
    let waits: Promise<void>[] | undefined;
    let duplicates = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const pid = item.pid;
      if (pid !== undefined) {
        const known = dedupe.lookup(pid);
        const pending = known === undefined ? inFlight.get(pid) : undefined;
        if (known !== undefined) seqs[i] = known;
        else if (pending === group) (sameFrame ??= []).push(i, indexOfPid(fresh, pid));
        else if (pending) (waits ??= []).push(seqOf(pending, pid, seqs, i));
        if (known !== undefined || pending) {
          duplicates++;
          freshIndex ??= fresh.map((_, k) => k);
          continue;
        }
        inFlight.set(pid, group);
      }
      if (freshIndex) freshIndex.push(i);
      fresh.push(item);
    }
    if (duplicates > 0) metrics.deduplicated.inc(duplicates);
    // Settled here too, so a failing own write cannot leave a retry's rejection unhandled.
    const waited = waits ? Promise.all(waits) : undefined;
    waited?.catch(() => undefined);
    if (fresh.length > 0) {
      const stop = metrics.appendDuration.startTimer();
      try {
        const written = journal.append(fresh);
        group.written = written;
        const stored = await written;
        stop();
        metrics.appended.inc(stored.length);
        for (let k = 0; k < stored.length; k++) {
          const msg = stored[k];
          seqs[freshIndex ? freshIndex[k] : k] = msg.seq;
          if (msg.pid !== undefined) dedupe.remember(msg.pid, msg.seq, msg.ts);
        }
        if (sameFrame) for (let j = 0; j < sameFrame.length; j += 2) seqs[sameFrame[j]] = stored[sameFrame[j + 1]].seq;
        deps.onAppended();
      } finally {
        for (const item of fresh)
          if (item.pid !== undefined && inFlight.get(item.pid) === group) inFlight.delete(item.pid);
      }
    }
    if (waited) await waited;
    return seqs;
  }

  return {
    append,
    get pendingIds() {
      return inFlight.size;
    },
  };
}

/** Position of `pid` among a group's items (only for retries and repeats: the rare path). */
function indexOfPid(items: readonly AppendInput[], pid: string): number {
  for (let k = 0; k < items.length; k++) if (items[k].pid === pid) return k;
  throw new Error(`pid not in its pending group`);
}

/** Waits for another frame's append and copies the seq it gave `pid` into seqs[i]. */
function seqOf(pending: PendingGroup, pid: string, seqs: number[], i: number): Promise<void> {
  const k = indexOfPid(pending.items, pid);
  // Set before the pid is visible to others: journal.append is called synchronously after the scan.
  const written = pending.written as Promise<StoredMessage[]>;
  return written.then((msgs) => void (seqs[i] = msgs[k].seq));
}
