// Durable consumer positions: the last seq each named consumer acknowledged, and when it was
// last seen (attached, detached, or found attached by the expiry sweep), so that "unattached
// for --consumer-ttl-ms" survives restarts. set() is called on every ack, so it only touches
// memory; the whole table is written atomically (tmp file + fsync + rename) by flush(), on a
// timer and at close.

import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeDirs } from '../journal/make-dirs.js';

export interface CursorStoreOptions {
  /** Most consumer names kept; set() of a new name past it throws LIMIT_EXCEEDED. */
  maxConsumers: number;
  /** How often dirty positions are written out. */
  flushIntervalMs: number;
  /** Longest consumer name, in UTF-8 bytes. */
  maxNameBytes: number;
  /** Clock of the last-seen times (ms since the epoch). */
  now: () => number;
}

export const CURSOR_DEFAULTS: CursorStoreOptions = Object.freeze({
  maxConsumers: 10_000,
  flushIntervalMs: 200,
  maxNameBytes: 256,
  now: Date.now,
});

export const CURSOR_FILE = 'cursors.json';
const TMP_SUFFIX = '.tmp';
/** Version 2 adds the last-seen time; a version 1 file loads with every consumer seen at load time. */
const FORMAT_VERSION = 2;

export type CursorErrorCode = 'LIMIT_EXCEEDED' | 'INVALID_ARGUMENT' | 'CURSOR_IO' | 'CURSOR_CORRUPT' | 'CURSOR_CLOSED';

export class CursorStoreError extends Error {
  readonly code: CursorErrorCode;
  constructor(code: CursorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CursorStoreError';
    this.code = code;
  }
}

export interface CursorStats {
  /** Files written by flush. */
  writes: number;
  /** Timer flushes that failed (positions stay dirty and are retried). */
  flushErrors: number;
}

export interface CursorEntry {
  acked: number;
  /** When the consumer was last seen (ms since the epoch). */
  lastSeenMs: number;
}

export interface CursorStore {
  /** Last acknowledged seq of `name`; 0 if unknown. */
  get(name: string): number;
  has(name: string): boolean;
  /** Records a position in memory; persisted by the next flush. A new name is seen now. */
  set(name: string, ackedSeq: number): void;
  /** Records that `name` was seen at `atMs`, registering it (at seq 0) when unknown. */
  touch(name: string, atMs: number): void;
  /** Forgets a consumer; true if it existed. */
  delete(name: string): boolean;
  names(): string[];
  entries(): IterableIterator<[name: string, ackedSeq: number]>;
  /** Position and last-seen time of `name`, or undefined. */
  entry(name: string): Readonly<CursorEntry> | undefined;
  readonly size: number;
  readonly stats: Readonly<CursorStats>;
  /** Writes the table atomically if anything changed since the last flush. */
  flush(): Promise<void>;
  /** Stops the timer and flushes. Idempotent. */
  close(): Promise<void>;
}

export async function openCursorStore(dir: string, opts: Partial<CursorStoreOptions> = {}): Promise<CursorStore> {
  const options = validateOptions({ ...CURSOR_DEFAULTS, ...opts });
  const path = join(dir, CURSOR_FILE);
  try {
    await makeDirs(dir);
    await rm(path + TMP_SUFFIX, { force: true }); // left by a crash mid-flush; the real file is intact
  } catch (err) {
    throw new CursorStoreError('CURSOR_IO', `cannot prepare ${dir}`, { cause: err });
  }
  return new FileCursorStore(dir, path, await loadCursors(path, options.now()), options);
}

class FileCursorStore implements CursorStore {
  readonly stats: CursorStats = { writes: 0, flushErrors: 0 };
  private dirty = false;
  private flushing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly dir: string,
    private readonly path: string,
    private readonly cursors: Map<string, CursorEntry>,
    private readonly opts: CursorStoreOptions,
  ) {
    this.timer = setInterval(() => this.flush().catch(() => void this.stats.flushErrors++), opts.flushIntervalMs);
    this.timer.unref();
  }

  get size(): number {
    return this.cursors.size;
  }

  get(name: string): number {
    return this.cursors.get(name)?.acked ?? 0;
  }

  has(name: string): boolean {
    return this.cursors.has(name);
  }

  entry(name: string): Readonly<CursorEntry> | undefined {
    return this.cursors.get(name);
  }

  set(name: string, ackedSeq: number): void {
    if (this.closing) throw new CursorStoreError('CURSOR_CLOSED', 'cursor store is closed');
    this.checkName(name);
    if (!Number.isSafeInteger(ackedSeq) || ackedSeq < 0) {
      throw new CursorStoreError('INVALID_ARGUMENT', 'ackedSeq must be an integer >= 0');
    }
    const known = this.cursors.get(name);
    if (known === undefined) {
      this.add(name, { acked: ackedSeq, lastSeenMs: this.opts.now() });
    } else if (known.acked !== ackedSeq) {
      known.acked = ackedSeq;
      this.dirty = true;
    }
  }

  touch(name: string, atMs: number): void {
    if (this.closing) throw new CursorStoreError('CURSOR_CLOSED', 'cursor store is closed');
    this.checkName(name);
    const known = this.cursors.get(name);
    if (known === undefined) {
      this.add(name, { acked: 0, lastSeenMs: atMs });
    } else if (known.lastSeenMs !== atMs) {
      known.lastSeenMs = atMs;
      this.dirty = true;
    }
  }

  private add(name: string, entry: CursorEntry): void {
    if (this.cursors.size >= this.opts.maxConsumers) {
      throw new CursorStoreError('LIMIT_EXCEEDED', `at most ${this.opts.maxConsumers} consumers`);
    }
    this.cursors.set(name, entry);
    this.dirty = true;
  }

  delete(name: string): boolean {
    if (this.closing) throw new CursorStoreError('CURSOR_CLOSED', 'cursor store is closed');
    const existed = this.cursors.delete(name);
    if (existed) this.dirty = true;
    return existed;
  }

  names(): string[] {
    return [...this.cursors.keys()];
  }

  *entries(): IterableIterator<[string, number]> {
    for (const [name, { acked }] of this.cursors) yield [name, acked];
  }

  flush(): Promise<void> {
    // One write at a time; changes made during a write are picked up by the next one.
    if (this.flushing)
      return this.flushing.then(
        () => this.flush(),
        () => this.flush(),
      );
    if (!this.dirty) return Promise.resolve();
    this.flushing = this.writeFile().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      // Let a failed timer flush surface here rather than being lost.
      await this.flush();
    })();
    return this.closing;
  }

  private checkName(name: string): void {
    if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > this.opts.maxNameBytes) {
      throw new CursorStoreError('INVALID_ARGUMENT', `consumer name must be 1..${this.opts.maxNameBytes} bytes`);
    }
  }

  private async writeFile(): Promise<void> {
    this.dirty = false;
    const cursors = [...this.cursors].map(([name, e]) => [name, e.acked, e.lastSeenMs]);
    const body = JSON.stringify({ version: FORMAT_VERSION, cursors });
    const tmp = this.path + TMP_SUFFIX;
    try {
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(body, 'utf8');
        await fh.sync(); // the data must be durable before the rename makes it the real file
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      await fsyncDir(this.dir); // makes the rename itself durable
      this.stats.writes++;
    } catch (err) {
      this.dirty = true;
      throw new CursorStoreError('CURSOR_IO', `cannot write ${this.path}`, { cause: err });
    }
  }
}

/** Reads the table; consumers of a version 1 file (no last-seen time) count as seen at `loadedAtMs`. */
async function loadCursors(path: string, loadedAtMs: number): Promise<Map<string, CursorEntry>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new CursorStoreError('CURSOR_IO', `cannot read ${path}`, { cause: err });
  }
  // The file is only ever replaced by rename, so a bad one is not a torn write: refuse to
  // start rather than silently rewinding every consumer to 0.
  const corrupt = (why: string) => new CursorStoreError('CURSOR_CORRUPT', `${path}: ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt('not JSON');
  }
  const doc = parsed as { version?: unknown; cursors?: unknown };
  const version = doc?.version;
  if ((version !== 1 && version !== FORMAT_VERSION) || !Array.isArray(doc.cursors)) throw corrupt('unknown format');
  const cursors = new Map<string, CursorEntry>();
  const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  for (const row of doc.cursors as unknown[]) {
    const ok =
      Array.isArray(row) &&
      row.length === (version === 1 ? 2 : 3) &&
      typeof row[0] === 'string' &&
      count(row[1]) &&
      (version === 1 || count(row[2]));
    if (!ok) throw corrupt('bad entry');
    cursors.set(row[0] as string, { acked: row[1] as number, lastSeenMs: version === 1 ? loadedAtMs : row[2] });
  }
  return cursors;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function validateOptions(opts: CursorStoreOptions): CursorStoreOptions {
  if (typeof opts.now !== 'function') throw new CursorStoreError('INVALID_ARGUMENT', 'invalid cursor store option now');
  for (const key of ['maxConsumers', 'flushIntervalMs', 'maxNameBytes'] as const) {
    if (!(Number.isSafeInteger(opts[key]) && opts[key] > 0)) {
      throw new CursorStoreError('INVALID_ARGUMENT', `invalid cursor store option ${key}`);
    }
  }
  return Object.freeze({ ...opts });
}
