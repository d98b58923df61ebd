/**
 * Password checks are scrypt runs of tens of milliseconds on libuv's small thread pool, so a
 * flood of failed logins could starve everyone else. The gate runs at most `maxConcurrent`
 * checks at once and serves waiting sources (remote addresses, IPv6 by /64) round-robin, so one
 * busy source delays another by at most one check per round. A source may have
 * `maxPerSource` checks running or waiting, and `maxQueued` may wait in all; past either the
 * check is refused at once with AuthBusyError (the server answers 503), costing nothing.
 */

export interface VerifyLimits {
  /** scrypt checks running at once (each takes a libuv thread and ~16 MiB). */
  maxConcurrent: number;
  /** Checks one source may have running or waiting. */
  maxPerSource: number;
  /** Checks waiting in all. */
  maxQueued: number;
}

export const VERIFY_DEFAULTS: VerifyLimits = Object.freeze({ maxConcurrent: 2, maxPerSource: 32, maxQueued: 512 });

/** Too many password checks are running or waiting: try again later (HTTP 503). */
export class AuthBusyError extends Error {
  readonly code = 'AUTH_BUSY';
  constructor() {
    super('too many password checks in progress');
    this.name = 'AuthBusyError';
  }
}

export interface VerifyGate {
  run<T>(source: string, job: () => Promise<T>): Promise<T>;
  /** Checks waiting (not running). */
  readonly queued: number;
}

export function createVerifyGate(limits: VerifyLimits = VERIFY_DEFAULTS): VerifyGate {
  let running = 0;
  let queued = 0;
  // Insertion order is the round-robin order: a source served is moved to the back.
  const waiting = new Map<string, (() => void)[]>();
  const perSource = new Map<string, number>();

  function release(source: string): void {
    running--;
    const left = (perSource.get(source) ?? 1) - 1;
    if (left === 0) perSource.delete(source);
    else perSource.set(source, left);
    const next = waiting.entries().next();
    if (next.done) return;
    const [src, starts] = next.value;
    waiting.delete(src);
    const start = starts.shift()!;
    if (starts.length > 0) waiting.set(src, starts);
    queued--;
    running++;
    start();
  }

  return {
    get queued() {
      return queued;
    },
    async run(source, job) {
      const mine = perSource.get(source) ?? 0;
      if (mine >= limits.maxPerSource) throw new AuthBusyError();
      if (running >= limits.maxConcurrent) {
        if (queued >= limits.maxQueued) throw new AuthBusyError();
        perSource.set(source, mine + 1);
        queued++;
        await new Promise<void>((resolve) => {
          const list = waiting.get(source);
          if (list) list.push(resolve);
          else waiting.set(source, [resolve]);
        });
      } else {
        perSource.set(source, mine + 1);
        running++;
      }
      try {
        return await job();
      } finally {
        release(source);
      }
    },
  };
}

/** The fairness key of a remote address: IPv4 as is, IPv6 by its /64 (one host's usual share). */
export function sourceOf(address: string | undefined): string {
  if (address === undefined) return '';
  const addr = address.replace(/%.*$/, '');
  if (addr.startsWith('::ffff:') && addr.includes('.')) return addr.slice(7);
  if (!addr.includes(':') || addr.includes('.')) return addr;
  const [head = '', tail] = addr.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return (
    groups
      .slice(0, 4)
      .map((g) => parseInt(g, 16).toString(16))
      .join(':') + '::/64'
  );
}
