/**
 * Who may connect, and where they may publish and subscribe. Basic Auth is checked on the
 * upgrade request. scrypt is deliberately slow, so a verified (user, password) pair is cached
 * by its SHA-256 for a short while, concurrent checks of the same pair share one scrypt run,
 * and the runs themselves pass a fair gate (verify-gate.ts) so a flood of failed logins from
 * one place cannot starve everyone else. Failures are never cached and cost the same whether
 * or not the user exists.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { basename, dirname } from 'node:path';
import parseBasic from 'basic-auth';
import { DEMO_PASSWORD, DEMO_USER } from '../config/options.js';
import type { Logger } from '../observe/log.js';
import { patternCovers, matchesPattern } from '../protocol/topics.js';
import { hashPassword, readUsersFile, verifyPassword, type UserRecord } from './users.js';
import { createVerifyGate, sourceOf, VERIFY_DEFAULTS, type VerifyLimits } from './verify-gate.js';

export interface Principal {
  readonly name: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** May use the admin API (`"admin": true` in the users file). */
  readonly admin?: boolean;
}

export interface Authenticator {
  /**
   * The principal for a request's Basic credentials, or null. Throws AuthBusyError when too
   * many password checks are in progress (the server answers 503).
   */
  authenticate(req: IncomingMessage): Promise<Principal | null>;
  /** Checks a name and password; `source` (the remote address) is the fairness key. */
  check(name: string, password: string, source?: string): Promise<Principal | null>;
  /** Re-reads the users file; keeps the old users if the new file is invalid. */
  reload(): void;
  close(): void;
}

export interface AuthOptions {
  usersFile?: string | undefined;
  demo: boolean;
  /** Called when a reload fails, so the service can log it. */
  onReloadError?: (err: Error) => void;
  /** Called after the users file was re-read because it changed on disk. */
  onReload?: () => void;
  /** How long a verified credential stays cached. */
  cacheMs?: number;
  /** Bounds on concurrent and waiting scrypt checks. */
  verify?: Partial<VerifyLimits>;
  /** How long to wait after a change of the users file before re-reading it (editors write in steps). */
  reloadDelayMs?: number;
}

const MAX_CACHED = 10_000;

export function canPublish(p: Principal, topic: string): boolean {
  return p.publish.some((pattern) => matchesPattern(pattern, topic));
}

export function canSubscribe(p: Principal, pattern: string): boolean {
  return p.subscribe.some((allowed) => patternCovers(allowed, pattern));
}

function digest(name: string, password: string): string {
  return createHash('sha256').update(name).update('\0').update(password).digest('base64');
}

/**
 * Says at start who may log in, where it is surprising: with --demo anyone knowing the demo
 * password, without --users and --demo nobody (every upgrade gets 401).
 */
export function warnAboutUsers(
  log: { warn(msg: string): void },
  opts: { demo: boolean; users?: string | undefined },
): void {
  if (opts.demo) {
    log.warn('DEMO MODE: the demo user hello/test is accepted. Never use --demo in production.');
  } else if (opts.users === undefined) {
    log.warn('no --users: this service knows no user and refuses every client with 401');
  }
}

/**
 * A service's authenticator: the one its caller shares (wsq-server hands one to its parts),
 * or its own from `--users`/`--demo`, with the start-up warning and the reload log lines
 * every service gives. `own`: the service closes it and reloads it on SIGHUP.
 */
export async function serviceAuthenticator(
  log: Pick<Logger, 'warn' | 'error' | 'info'>,
  opts: { demo: boolean; users?: string | undefined },
  shared?: Authenticator,
): Promise<{ auth: Authenticator; own: boolean }> {
  if (shared) return { auth: shared, own: false };
  warnAboutUsers(log, opts);
  const auth = await createAuthenticator({
    usersFile: opts.users,
    demo: opts.demo,
    onReloadError: (err) => log.error({ err: err.message }, 'users file reload failed; keeping the previous users'),
    onReload: () => log.info('users file changed on disk; reloaded'),
  });
  return { auth, own: true };
}

export async function createAuthenticator(opts: AuthOptions): Promise<Authenticator> {
  const cacheMs = opts.cacheMs ?? 60_000;
  let users = new Map<string, UserRecord>();
  const demoRecord: UserRecord | undefined = opts.demo
    ? { password: await hashPassword(DEMO_PASSWORD), publish: ['>'], subscribe: ['>'] }
    : undefined;
  // Unknown users are checked against this so a miss costs as much as a wrong password.
  const decoy = await hashPassword('decoy');
  const verified = new Map<string, { principal: Principal; expires: number }>();
  const inflight = new Map<string, Promise<Principal | null>>();
  const gate = createVerifyGate({ ...VERIFY_DEFAULTS, ...opts.verify });

  function load(): void {
    const next = new Map<string, UserRecord>();
    if (demoRecord) next.set(DEMO_USER, demoRecord);
    if (opts.usersFile) {
      for (const [name, rec] of Object.entries(readUsersFile(opts.usersFile).users)) next.set(name, rec);
    }
    users = next;
    verified.clear();
  }
  load();

  function reload(): boolean {
    try {
      load();
      return true;
    } catch (err) {
      opts.onReloadError?.(err as Error);
      return false;
    }
  }

  // The directory is watched, not the file: tools replace the file by renaming a new one over
  // it, and a watch on the file would stay on the old inode after the first replacement.
  let watcher: FSWatcher | undefined;
  let pendingReload: NodeJS.Timeout | undefined;
  if (opts.usersFile) {
    const file = basename(opts.usersFile);
    try {
      watcher = watch(dirname(opts.usersFile), { persistent: false }, (_event, name) => {
        if (name !== null && name !== file) return;
        clearTimeout(pendingReload);
        pendingReload = setTimeout(() => {
          if (reload()) opts.onReload?.();
        }, opts.reloadDelayMs ?? 50);
        pendingReload.unref();
      });
    } catch {
      watcher = undefined; // watching is a convenience; SIGHUP still reloads
    }
  }

  async function verify(name: string, password: string, source: string): Promise<Principal | null> {
    const rec = users.get(name);
    const ok = await gate.run(source, () => verifyPassword(password, rec?.password ?? decoy));
    // A reload during the await may have removed the user, changed the password or the patterns.
    const now = users.get(name);
    if (!ok || rec === undefined || now?.password !== rec.password) return null;
    return Object.freeze({ name, publish: now.publish, subscribe: now.subscribe, admin: now.admin === true });
  }

  async function check(name: string, password: string, source = ''): Promise<Principal | null> {
    const key = digest(name, password);
    const hit = verified.get(key);
    if (hit && hit.expires > Date.now()) return hit.principal;
    let running = inflight.get(key);
    if (!running) {
      running = verify(name, password, source).finally(() => inflight.delete(key));
      inflight.set(key, running);
    }
    const principal = await running;
    if (principal) {
      verified.delete(key);
      if (verified.size >= MAX_CACHED) verified.delete(verified.keys().next().value!);
      verified.set(key, { principal, expires: Date.now() + cacheMs });
    }
    return principal;
  }

  return {
    check,
    async authenticate(req) {
      const creds = parseBasic(req);
      if (!creds) return null;
      return check(creds.name, creds.pass, sourceOf(req.socket?.remoteAddress));
    },
    reload() {
      reload();
    },
    close() {
      clearTimeout(pendingReload);
      watcher?.close();
    },
  };
}
