/**
 * The users file: JSON, one entry per user with an scrypt hash (never the password) and the
 * topic patterns the user may publish to and subscribe to.
 *
 *   { "version": 1, "users": { "alice": { "password": "scrypt$N$r$p$salt$hash",
 *                                          "publish": ["chat.>"], "subscribe": [">"] } } }
 *
 * `"admin": true` on a user grants the admin API (the msgqueue's /v1/consumers); it is
 * written only when true.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../protocol/errors.js';
import { isValidPattern } from '../protocol/topics.js';

export interface UserRecord {
  password: string;
  publish: string[];
  subscribe: string[];
  admin?: boolean;
}
export interface UsersFile {
  version: 1;
  users: Record<string, UserRecord>;
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;
export const USER_NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p, keylen } = SCRYPT;
  const hash = await scrypt(password, salt, keylen, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Constant-time check of `password` against an encoded hash. False for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (!Number.isInteger(N) || expected.length === 0) return false;
  const actual = await scrypt(password, salt, expected.length, { N, r, p });
  return timingSafeEqual(actual, expected);
}

function checkPatterns(where: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((p) => isValidPattern(p))) {
    throw new ConfigError('users', `${where} must be a list of topic patterns`);
  }
  return v as string[];
}

export function parseUsersFile(text: string, path = 'users file'): UsersFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('users', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  const users = (raw as { users?: unknown } | null)?.users;
  if (users === null || typeof users !== 'object' || Array.isArray(users)) {
    throw new ConfigError('users', `${path} must hold {"version":1,"users":{…}}`);
  }
  const out: UsersFile = { version: 1, users: {} };
  for (const [name, rec] of Object.entries(users as Record<string, unknown>)) {
    const r = rec as Partial<UserRecord> | null;
    if (!USER_NAME_PATTERN.test(name) || typeof r?.password !== 'string' || !r.password.startsWith('scrypt$')) {
      throw new ConfigError('users', `${path}: user ${JSON.stringify(name)} needs a name and an scrypt password hash`);
    }
    if (r.admin !== undefined && typeof r.admin !== 'boolean') {
      throw new ConfigError('users', `${path}: ${name}.admin must be true or false`);
    }
    out.users[name] = {
      password: r.password,
      publish: checkPatterns(`${name}.publish`, r.publish ?? []),
      subscribe: checkPatterns(`${name}.subscribe`, r.subscribe ?? []),
      ...(r.admin === true && { admin: true }),
    };
  }
  return out;
}

export function readUsersFile(path: string): UsersFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('users', `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseUsersFile(text, path);
}

/** Atomic write (temp file + rename), readable by the owner only. */
export function writeUsersFile(path: string, file: UsersFile): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}
