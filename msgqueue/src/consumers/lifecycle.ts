/**
 * The life of a durable consumer beyond its cursor: listing, deleting (the admin API), and
 * expiry. A consumer that stays unattached for `ttlMs` is deleted with its cursor, logged and
 * counted, so consumers left behind by renamed subscribers (a pod restarted under a new
 * name) do not pile up until --max-consumers refuses everyone new.
 *
 * "Unattached since" is the cursor store's last-seen time, persisted with the cursor, so a
 * restart neither forgets nor resets it. It is set when a consumer attaches or detaches and,
 * while one is attached, refreshed by every sweep, so after a crash an attached consumer
 * counts from the last sweep before it.
 *
 * The sweep runs on a timer owned here (start/stop) and examines at most `batch` consumers
 * per tick, resuming where the previous tick stopped.
 */
import type { Logger } from '@wsq/core';
import type { Counter } from 'prom-client';
import type { CursorStore } from './cursors.js';
import type { ConsumerHub } from './hub.js';

/** One consumer as the admin API shows it. */
export interface ConsumerView {
  name: string;
  /** The next seq to deliver: the attached connection's, else the one a new attach resumes at. */
  next: number;
  /** Messages not acknowledged yet: newest seq − acknowledged seq. */
  lag: number;
  attached: boolean;
  /** ISO time the consumer was last seen; null while attached. */
  lastSeen: string | null;
}

export type DeleteOutcome = 'deleted' | 'unknown' | 'attached';

export interface ConsumerLifecycleDeps {
  cursors: CursorStore;
  hub: ConsumerHub;
  journal: { readonly firstSeq: number; readonly lastSeq: number };
  log: Logger;
  /** Consumers deleted, by reason (`expired` or `admin`). */
  deleted: Counter<'reason'>;
  now: () => number;
  /** A consumer unattached this long is deleted. */
  ttlMs: number;
  /** Consumers examined per sweep tick. */
  batch?: number;
  /** Time between sweep ticks; defaults to a tenth of ttlMs, between 10 ms and 60 s. */
  intervalMs?: number;
}

export interface ConsumerLifecycle {
  /** Every durable consumer, by name. */
  list(): ConsumerView[];
  /** Deletes an unattached consumer (the admin API); `user` is who asked, for the log. */
  remove(name: string, user?: string): DeleteOutcome;
  /** One bounded sweep step; the names it deleted. */
  sweep(): string[];
  /** Starts the sweep timer. */
  start(): void;
  /** Stops the sweep timer. Idempotent. */
  stop(): void;
}

export const SWEEP_BATCH = 1000;

export function sweepIntervalMs(ttlMs: number): number {
  return Math.min(60_000, Math.max(10, Math.floor(ttlMs / 10)));
}

export function createConsumerLifecycle(deps: ConsumerLifecycleDeps): ConsumerLifecycle {
  const { cursors, hub, journal, log, now } = deps;
  const batch = deps.batch ?? SWEEP_BATCH;
  /** Names still to examine in the current pass over the consumers. */
  let pass: string[] = [];
  let timer: NodeJS.Timeout | undefined;

  function view(name: string): ConsumerView {
    const entry = cursors.entry(name);
    const acked = entry?.acked ?? 0;
    const session = hub.session(name);
    return {
      name,
      next: session ? session.next() : Math.max(acked + 1, journal.firstSeq),
      lag: Math.max(0, journal.lastSeq - acked),
      attached: session !== undefined,
      lastSeen: session || !entry ? null : new Date(entry.lastSeenMs).toISOString(),
    };
  }

  function forget(name: string, reason: 'expired' | 'admin', extra: object): void {
    cursors.delete(name);
    deps.deleted.inc({ reason });
    log.info({ consumer: name, reason, ...extra }, reason === 'expired' ? 'consumer expired' : 'consumer deleted');
  }

  function sweep(): string[] {
    if (pass.length === 0) pass = cursors.names();
    const at = now();
    const expired: string[] = [];
    for (const name of pass.splice(0, batch)) {
      const entry = cursors.entry(name);
      if (!entry) continue; // deleted since the pass began
      if (hub.session(name)) {
        cursors.touch(name, at);
      } else if (at - entry.lastSeenMs >= deps.ttlMs) {
        forget(name, 'expired', { lastSeen: new Date(entry.lastSeenMs).toISOString(), ttlMs: deps.ttlMs });
        expired.push(name);
      }
    }
    return expired;
  }

  return {
    list: () =>
      cursors
        .names()
        .sort()
        .map((name) => view(name)),
    remove(name, user) {
      if (hub.session(name)) return 'attached';
      if (!cursors.has(name)) return 'unknown';
      forget(name, 'admin', { user });
      return 'deleted';
    },
    sweep,
    start() {
      if (timer) return;
      timer = setInterval(
        () => {
          try {
            sweep();
          } catch (err) {
            log.error({ err }, 'consumer expiry sweep failed');
          }
        },
        deps.intervalMs ?? sweepIntervalMs(deps.ttlMs),
      );
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
