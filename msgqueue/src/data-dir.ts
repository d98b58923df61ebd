/**
 * The msgqueue's data directory, checked before anything is opened in it: it and its
 * subdirectories are created if missing, must be directories, and must take a new file. A
 * failure is a ConfigError on `dataDir` (main.ts exits 2 naming it) with the reason.
 */
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@wsq/core';
import { errCode, makeDirs } from './journal/make-dirs.js';

/** A file created and removed in each directory to prove it is writable (root ignores modes). */
const WRITE_PROBE = '.wsq-write-probe';

async function probeWrite(dir: string): Promise<void> {
  const probe = join(dir, `${WRITE_PROBE}-${process.pid}`);
  const handle = await open(probe, 'w');
  await handle.close();
  await unlink(probe);
}

function reason(err: unknown): string {
  const code = errCode(err);
  const path = (err as NodeJS.ErrnoException).path ?? '';
  switch (code) {
    case 'EEXIST':
      return `${path} exists and is not a directory`;
    case 'ENOTDIR':
      return `a parent of ${path} is not a directory`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${path}`;
    case 'EROFS':
      return `${path} is on a read-only file system`;
    case 'ENOENT':
      return `${path} cannot be created`;
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** Creates `dir` and its `subdirs` as needed and proves each a writable directory. */
export async function prepareDataDir(dir: string, subdirs: readonly string[]): Promise<void> {
  try {
    for (const d of [dir, ...subdirs.map((s) => join(dir, s))]) {
      await makeDirs(d);
      await probeWrite(d);
    }
  } catch (err) {
    throw new ConfigError(
      'dataDir',
      `${JSON.stringify(dir)} is not usable: ${reason(err)} (${errCode(err) ?? 'error'})`,
    );
  }
}
