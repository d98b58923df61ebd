/**
 * Who may connect, and where they may publish and subscribe. Basic Auth is checked on the
 * upgrade request. scrypt is deliberately slow, so a verified (user, password) pair is cached
 * by its SHA-256 for a short while; failures are never cached and cost the same whether or not
 * the user exists.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import parseBasic from 'basic-auth';
import { DEMO_PASSWORD, DEMO_USER } from './options.js';
import { patternCovers, matchesPattern } from './topics.js';
import { hashPassword, readUsersFile, verifyPassword, type UserRecord } from './users.js';

export interface Principal {
  readonly name: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

export interface Authenticator {
  /** The principal for a request's Basic credentials, or null. */
  authenticate(req: IncomingMessage): Promise<Principal | null>;
  check(name: string, password: string): Promise<Principal | null>;
  /** Re-reads the users file; keeps the old users if the new file is invalid. */
  reload(): void;
  close(): void;
}

export interface AuthOptions {
  usersFile?: string | undefined;
  demo: boolean;
  /** Called when a reload fails, so the service can log it. */
  onReloadError?: (err: Error) => void;
  /** How long a verified credential stays cached. */
  cacheMs?: number;
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

export async function createAuthenticator(opts: AuthOptions): Promise<Authenticator> {
  const cacheMs = opts.cacheMs ?? 60_000;
  let users = new Map<string, UserRecord>();
  const demoRecord: UserRecord | undefined = opts.demo
    ? { password: await hashPassword(DEMO_PASSWORD), publish: ['>'], subscribe: ['>'] }
    : undefined;
  // Unknown users are checked against this so a miss costs as much as a wrong password.
  const decoy = await hashPassword('decoy');
  const verified = new Map<string, { principal: Principal; expires: number }>();

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

  let watcher: FSWatcher | undefined;
  if (opts.usersFile) {
    try {
      watcher = watch(opts.usersFile, { persistent: false }, () => reload());
    } catch {
      watcher = undefined; // watching is a convenience; SIGHUP still reloads
    }
  }

  function reload(): void {
    try {
      load();
    } catch (err) {
      opts.onReloadError?.(err as Error);
    }
  }

  async function check(name: string, password: string): Promise<Principal | null> {
    const key = digest(name, password);
    const hit = verified.get(key);
    if (hit && hit.expires > Date.now()) return hit.principal;
    const rec = users.get(name);
    const ok = await verifyPassword(password, rec?.password ?? decoy);
    // A reload during the await may have removed the user or changed the password.
    if (!ok || rec === undefined || users.get(name)?.password !== rec.password) return null;
    const principal: Principal = Object.freeze({ name, publish: rec.publish, subscribe: rec.subscribe });
    if (verified.size >= MAX_CACHED) verified.delete(verified.keys().next().value!);
    verified.set(key, { principal, expires: Date.now() + cacheMs });
    return principal;
  }

  return {
    check,
    async authenticate(req) {
      const creds = parseBasic(req);
      if (!creds) return null;
      return check(creds.name, creds.pass);
    },
    reload,
    close() {
      watcher?.close();
    },
  };
}
