import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { canPublish, canSubscribe, createAuthenticator } from '../src/front/auth.js';
import { createBackoff } from '../src/queue/backoff.js';
import { originAllowed } from '../src/front/origins.js';
import { hashPassword, parseUsersFile, readUsersFile, verifyPassword, writeUsersFile } from '../src/front/users.js';

function req(user: string, pass: string): IncomingMessage {
  return {
    headers: { authorization: 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64') },
  } as IncomingMessage;
}

async function usersFile(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-users-'));
  const file = join(dir, 'users.json');
  writeUsersFile(file, {
    version: 1,
    users: {
      alice: { password: await hashPassword('wonderland'), publish: ['chat.>'], subscribe: ['chat.*', 'news'] },
    },
  });
  return file;
}

t.test('scrypt hashes verify and never contain the password', async (t) => {
  const h = await hashPassword('pa55word');
  t.match(h, /^scrypt\$16384\$8\$1\$/);
  t.notMatch(h, 'pa55word');
  t.equal(await verifyPassword('pa55word', h), true);
  t.equal(await verifyPassword('wrong', h), false);
  t.equal(await verifyPassword('x', 'plain'), false);
  t.equal(await verifyPassword('x', 'scrypt$a$b$c$d$'), false);
});

t.test('users file: parse, validate, atomic write', async (t) => {
  const file = await usersFile();
  const text = readFileSync(file, 'utf8');
  t.notMatch(text, 'wonderland');
  t.same(readUsersFile(file).users.alice?.publish, ['chat.>']);
  const bad = [
    'nope',
    '{}',
    '{"users":[]}',
    '{"users":{"bad name":{"password":"scrypt$x"}}}',
    '{"users":{"bob":{"password":"plaintext"}}}',
    '{"users":{"bob":{"password":"scrypt$1$1$1$a$b","publish":["a b"]}}}',
    '{"users":{"bob":{"password":"scrypt$1$1$1$a$b","admin":"yes"}}}',
  ];
  for (const b of bad) t.throws(() => parseUsersFile(b), { code: 'BAD_CONFIG' }, b);
  t.throws(() => readUsersFile(join(file, 'missing')), { code: 'BAD_CONFIG' });
});

t.test('authenticator: demo user, users file, wrong credentials', async (t) => {
  const file = await usersFile();
  const auth = await createAuthenticator({ usersFile: file, demo: true });
  t.teardown(() => auth.close());
  t.equal((await auth.authenticate(req('hello', 'test')))?.name, 'hello');
  const alice = await auth.authenticate(req('alice', 'wonderland'));
  t.equal(alice?.name, 'alice');
  t.equal(await auth.authenticate(req('alice', 'wonderland')), alice, 'cached principal');
  t.equal(await auth.authenticate(req('alice', 'nope')), null);
  t.equal(await auth.authenticate(req('mallory', 'test')), null);
  t.equal(await auth.authenticate({ headers: {} } as IncomingMessage), null);
  t.equal(await auth.authenticate({ headers: { authorization: 'Bearer x' } } as IncomingMessage), null);
});

t.test('"admin": true in the users file makes an admin principal; the demo user is none', async (t) => {
  const file = await usersFile();
  const users = readUsersFile(file);
  users.users.root = { password: await hashPassword('toor'), publish: [], subscribe: [], admin: true };
  users.users.nobody = { password: await hashPassword('x'), publish: [], subscribe: [], admin: false };
  writeUsersFile(file, users);
  t.same(readUsersFile(file).users.nobody, { password: users.users.nobody.password, publish: [], subscribe: [] });
  const auth = await createAuthenticator({ usersFile: file, demo: true });
  t.teardown(() => auth.close());
  t.equal((await auth.authenticate(req('root', 'toor')))?.admin, true);
  t.equal((await auth.authenticate(req('alice', 'wonderland')))?.admin, false);
  t.equal((await auth.authenticate(req('nobody', 'x')))?.admin, false);
  t.equal((await auth.authenticate(req('hello', 'test')))?.admin, false);
});

t.test('authenticator without --demo has no hello user', async (t) => {
  const auth = await createAuthenticator({ demo: false });
  t.teardown(() => auth.close());
  t.equal(await auth.check('hello', 'test'), null);
});

t.test('reload picks up changes and keeps the old users on a bad file', async (t) => {
  const file = await usersFile();
  const errors: Error[] = [];
  const auth = await createAuthenticator({ usersFile: file, demo: false, onReloadError: (e) => errors.push(e) });
  t.teardown(() => auth.close());
  t.ok(await auth.check('alice', 'wonderland'));
  const f = readUsersFile(file);
  f.users.bob = { password: await hashPassword('builder'), publish: [], subscribe: [] };
  delete f.users.alice;
  writeUsersFile(file, f);
  auth.reload();
  t.ok(await auth.check('bob', 'builder'));
  t.equal(await auth.check('alice', 'wonderland'), null, 'removed user is refused, even if cached');
  writeFileSync(file, 'garbage');
  auth.reload();
  t.ok(errors.length >= 1);
  t.ok(await auth.check('bob', 'builder'), 'old users kept');
});

t.test('permissions', async (t) => {
  const p = { name: 'a', publish: ['chat.>'], subscribe: ['chat.*', 'news'] };
  t.ok(canPublish(p, 'chat.eu'));
  t.notOk(canPublish(p, 'news'));
  t.ok(canSubscribe(p, 'chat.eu'));
  t.ok(canSubscribe(p, 'chat.*'));
  t.notOk(canSubscribe(p, 'chat.>'));
  t.ok(canSubscribe(p, 'news'));
  t.notOk(canSubscribe(p, '>'));
});

t.test('origins', async (t) => {
  const allowed = ['https://app.example.com', 'https://*.example.org'];
  t.ok(originAllowed([], 'https://anything'));
  t.ok(originAllowed(allowed, undefined));
  t.ok(originAllowed(allowed, 'https://app.example.com'));
  t.ok(originAllowed(allowed, 'https://A.example.org'));
  t.notOk(originAllowed(allowed, 'https://example.org'));
  t.notOk(originAllowed(allowed, 'http://a.example.org'));
  t.notOk(originAllowed(allowed, 'https://evil.com'));
});

t.test('backoff grows exponentially within bounds, with jitter, and resets', async (t) => {
  const b = createBackoff(100, 1000, () => 1);
  t.same([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  t.equal(b.next(), 100);
  const low = createBackoff(100, 1000, () => 0);
  low.next();
  t.equal(low.next(), 100, 'jitter can go down to the minimum');
});
