/**
 * Certificate rotation without a restart: the certificate and key files are re-read when they
 * change on disk (and on SIGHUP, through reload()), and a pair that loads is handed to
 * `apply` (the server's setSecureContext: open connections keep the context they shook hands
 * with, new handshakes get the new one).
 *
 * The directories are watched, not the files: cert-manager and Kubernetes Secret volumes swap a
 * `..data` symlink, and tools rename a new file over the old one, so a watch on the file would
 * stay on the old inode. Any event in those directories schedules one debounced attempt; an
 * attempt applies only a pair that differs from the one served and that Node accepts as a
 * certificate with its key. A half-written file, or a certificate already replaced whose key
 * is not yet, fails that check: the old pair stays until a later event brings a valid one.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { readPem } from './tls.js';

export interface CertKeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface TlsReloadOptions {
  paths: { cert: string; key: string };
  /** The pair being served when watching starts. */
  initial: CertKeyPair;
  apply(pair: CertKeyPair): void;
  /** A reload attempt failed (the previous pair stays). */
  onError?(err: Error): void;
  /** A new pair was applied; `trigger` says what caused it. */
  onReload?(trigger: 'watch' | 'signal'): void;
  /** Quiet time after the last file event before the files are read. */
  debounceMs?: number;
}

export interface TlsReloader {
  /** Re-reads both files now (SIGHUP); true when a new pair was applied. */
  reload(): boolean;
  close(): void;
}

/** Reads both files and checks that they make a TLS context (a certificate and its key). */
export function loadCertKeyPair(paths: { cert: string; key: string }): CertKeyPair {
  const pair = { cert: readPem('cert', paths.cert, true)!, key: readPem('key', paths.key, true)! };
  createSecureContext(pair); // throws on a truncated PEM or a key that is not the certificate's
  return pair;
}

export function watchTlsFiles(opts: TlsReloadOptions): TlsReloader {
  let current = opts.initial;
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];

  function attempt(trigger: 'watch' | 'signal'): boolean {
    let next: CertKeyPair;
    try {
      next = loadCertKeyPair(opts.paths);
    } catch (err) {
      opts.onError?.(err as Error);
      return false;
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return false;
    opts.apply(next);
    current = next;
    opts.onReload?.(trigger);
    return true;
  }

  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => attempt('watch'), opts.debounceMs ?? 100);
    timer.unref();
  };
  for (const dir of new Set([dirname(opts.paths.cert), dirname(opts.paths.key)])) {
    try {
      watchers.push(watch(dir, { persistent: false }, schedule));
    } catch (err) {
      // Watching is a convenience (some filesystems cannot); SIGHUP still reloads.
      opts.onError?.(err as Error);
    }
  }

  return {
    reload: () => attempt('signal'),
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
