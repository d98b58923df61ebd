import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createAuthenticator } from '../src/front/auth.js';
import { hashPassword, readUsersFile, writeUsersFile } from '../src/front/users.js';
import { AuthBusyError } from '../src/front/verify-gate.js';

t.test('concurrent checks of the same credentials share one scrypt run', async (t) => {
  // One check per source at a time: without sharing, the second would be refused as busy.
  const auth = await createAuthenticator({ demo: true, verify: { maxConcurrent: 1, maxPerSource: 1 } });
  t.teardown(() => auth.close());
  const [a, b] = await Promise.all([auth.check('hello', 'test', 's'), auth.check('hello', 'test', 's')]);
  t.equal(a?.name, 'hello');
  t.equal(b, a);
  const [c, d] = await Promise.all([auth.check('hello', 'bad', 's'), auth.check('hello', 'bad', 's')]);
  t.equal(c, null);
  t.equal(d, null);
});

t.test('different passwords from one busy source are refused with AuthBusyError; others still get in', async (t) => {
  const auth = await createAuthenticator({ demo: true, verify: { maxConcurrent: 1, maxPerSource: 2 } });
  t.teardown(() => auth.close());
  const tries = ['a', 'b', 'c', 'd'].map((p) => auth.check('hello', p, 'attacker').catch((e: unknown) => e));
  const legit = auth.check('hello', 'test', 'user');
  const results = await Promise.all(tries);
  t.same(results.slice(0, 2), [null, null]);
  t.ok(results.slice(2).every((r) => r instanceof AuthBusyError));
  t.equal((await legit)?.name, 'hello');
  t.equal((await auth.check('hello', 'test', 'attacker'))?.name, 'hello', 'a cached credential skips the gate');
});

t.test('the users file is re-read every time it is replaced (watch on the directory)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The watcher does not keep a process alive (a service's server does); this test must.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  const file = join(dir, 'users.json');
  writeUsersFile(file, { version: 1, users: {} });
  let reloads = 0;
  let wake: () => void = () => undefined;
  const auth = await createAuthenticator({
    usersFile: file,
    demo: false,
    reloadDelayMs: 10,
    onReload: () => {
      reloads++;
      wake();
    },
  });
  t.teardown(() => auth.close());
  const reloaded = () => new Promise<void>((r) => (wake = r));

  let next = reloaded();
  const f = readUsersFile(file);
  f.users.bob = { password: await hashPassword('builder'), publish: [], subscribe: [] };
  writeUsersFile(file, f);
  await next;
  t.equal((await auth.check('bob', 'builder'))?.name, 'bob');

  next = reloaded();
  delete f.users.bob;
  writeUsersFile(file, f);
  await next;
  t.equal(await auth.check('bob', 'builder'), null, 'the second replacement is seen too');
  t.ok(reloads >= 2);
});
