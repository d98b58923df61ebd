/**
 * `mkdir -p` that always settles. Node's `mkdir(…, { recursive: true })` does not: where a
 * parent exists but refuses the child with ENOENT (under /proc, or a dangling symlink), it
 * retries forever and its promise never settles (seen on Node 20 and 22), so
 * `--data-dir /proc/x` used to hang the msgqueue's start without a word.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** mkdir's EEXIST stands when what exists is not a directory. */
function existsNotDirectory(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EEXIST: exists and is not a directory, '${path}'`), { code: 'EEXIST', path });
}

async function mustBeDirectory(path: string): Promise<void> {
  if (!(await stat(path)).isDirectory()) throw existsNotDirectory(path);
}

/**
 * Creates `dir` and its missing parents: each parent is created once, then `dir` is tried
 * once more, and a second ENOENT is final. Rejects with the fs error (its `code`, `path`).
 */
export async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (err) {
    if (errCode(err) === 'EEXIST') return mustBeDirectory(dir);
    const parent = dirname(dir);
    if (errCode(err) !== 'ENOENT' || parent === dir) throw err;
    await makeDirs(parent);
  }
  try {
    await mkdir(dir);
  } catch (err) {
    if (errCode(err) !== 'EEXIST') throw err;
    await mustBeDirectory(dir); // created meanwhile by someone else
  }
}
