/**
 * The one append path shared by v1 producers and legacy pushers: producer-id dedupe, a single
 * journal.append per frame (so arrival order is seq order across all connections), metrics,
 * and waking the consumers once the journal committed.
 */
import type { AppendInput, Journal } from './journal.js';
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

export function createAppender(deps: AppenderDeps): Appender {
  const { journal, dedupe, metrics } = deps;
  // A pid whose append has not resolved yet is not in the dedupe index: a retry arriving
  // meanwhile (on any connection) waits for the original instead of being appended twice.
  // Bounded by the in-flight appends (per-connection limit times connections).
  const inFlight = new Map<string, Promise<number>>();

  async function append(items: readonly AppendInput[]): Promise<number[]> {
    const seqs: number[] = new Array<number>(items.length);
    const fresh: AppendInput[] = [];
    const freshIndex: number[] = []; // fresh[k] answers items[freshIndex[k]]
    const sameFrame: [item: number, fresh: number][] = [];
    const waits: Promise<void>[] = [];
    const framePids = new Map<string, number>();
    let duplicates = 0;
    items.forEach((item, i) => {
      const pid = item.pid;
      if (pid !== undefined) {
        const known = dedupe.lookup(pid);
        const pending = known === undefined ? inFlight.get(pid) : undefined;
        const inFrame = framePids.get(pid);
        if (known !== undefined) seqs[i] = known;
        else if (pending) waits.push(pending.then((seq) => void (seqs[i] = seq)));
        else if (inFrame !== undefined) sameFrame.push([i, inFrame]);
        if (known !== undefined || pending || inFrame !== undefined) {
          duplicates++;
          return;
        }
        framePids.set(pid, fresh.length);
      }
      freshIndex.push(i);
      fresh.push(item);
    });
    if (duplicates > 0) metrics.deduplicated.inc(duplicates);
    if (fresh.length > 0) {
      const stop = metrics.appendDuration.startTimer();
      const written = journal.append(fresh);
      const mine: [string, Promise<number>][] = [];
      for (const [pid, k] of framePids) {
        const seq = written.then((msgs) => msgs[k].seq);
        seq.catch(() => undefined); // the appending frame reports the failure
        inFlight.set(pid, seq);
        mine.push([pid, seq]);
      }
      try {
        const stored = await written;
        stop();
        metrics.appended.inc(stored.length);
        stored.forEach((msg, k) => {
          seqs[freshIndex[k]] = msg.seq;
          if (msg.pid !== undefined) dedupe.remember(msg.pid, msg.seq, msg.ts);
        });
        for (const [i, k] of sameFrame) seqs[i] = stored[k].seq;
        deps.onAppended();
      } finally {
        for (const [pid, seq] of mine) if (inFlight.get(pid) === seq) inFlight.delete(pid);
      }
    }
    await Promise.all(waits);
    return seqs;
  }

  return {
    append,
    get pendingIds() {
      return inFlight.size;
    },
  };
}
