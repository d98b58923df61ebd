import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseUsersFile, verifyPassword } from '../src/front/users.js';

const CLI = fileURLToPath(new URL('../../bin/wsq-users.js', import.meta.url));
const DIR = mkdtempSync(join(tmpdir(), 'wsq-users-'));
t.teardown(() => rmSync(DIR, { recursive: true, force: true }));
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSQ_')));

let fileNo = 0;
function freshFile(): string {
  return join(DIR, `users-${++fileNo}.json`);
}

/** Runs wsq-users with `stdin` as its whole standard input. */
async function users(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.end(stdin);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

t.test('add creates a 0600 file with an scrypt hash and the patterns; list never shows hashes', async (t) => {
  const file = freshFile();
  const added = await users(
    ['add', 'alice', '--users', file, '--password-stdin', '--publish', 'chat.>, news', '--subscribe', 'chat.*'],
    's3cret pass\n',
  );
  t.equal(added.code, 0, added.stderr);
  t.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, 'utf8');
  t.notMatch(text, /s3cret/, 'no plaintext in the file');
  const parsed = parseUsersFile(text);
  const alice = parsed.users.alice!;
  t.same(
    { publish: alice.publish, subscribe: alice.subscribe },
    { publish: ['chat.>', 'news'], subscribe: ['chat.*'] },
  );
  t.ok(await verifyPassword('s3cret pass', alice.password), 'the trailing newline is not part of the password');
  t.notOk(await verifyPassword('s3cret pass\n', alice.password));

  t.equal((await users(['add', 'bob', '--users', file, '--password-stdin'], 'pw')).code, 0);
  const list = await users(['list', '--users', file]);
  t.equal(list.code, 0);
  t.equal(list.stdout, 'alice  publish: chat.>,news  subscribe: chat.*\nbob    publish: >  subscribe: >\n');
  t.notMatch(list.stdout, /scrypt/);
});

t.test('add on an existing user sets the password and keeps patterns not given', async (t) => {
  const file = freshFile();
  t.equal(
    (await users(['add', 'alice', '--users', file, '--password-stdin', '--publish', 'a', '--subscribe', 'b'], 'one'))
      .code,
    0,
  );
  const r = await users(['add', 'alice', '--users', file, '--password-stdin', '--subscribe', ''], 'two');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^updated user alice/);
  const alice = parseUsersFile(readFileSync(file, 'utf8')).users.alice!;
  t.ok(await verifyPassword('two', alice.password));
  t.same({ publish: alice.publish, subscribe: alice.subscribe }, { publish: ['a'], subscribe: [] });
});

t.test('--admin grants the admin API; an update keeps it unless --no-admin', async (t) => {
  const file = freshFile();
  const added = await users(['add', 'root', '--users', file, '--password-stdin', '--admin'], 'pw');
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /admin\)/);
  const admin = () => parseUsersFile(readFileSync(file, 'utf8')).users.root!.admin;
  t.equal(admin(), true);
  t.equal((await users(['add', 'root', '--users', file, '--password-stdin'], 'pw2')).code, 0);
  t.equal(admin(), true, 'kept');
  t.equal((await users(['add', 'plain', '--users', file, '--password-stdin'], 'pw')).code, 0);
  t.equal(
    (await users(['list', '--users', file])).stdout,
    'plain  publish: >  subscribe: >\nroot   publish: >  subscribe: >  admin\n',
  );
  t.equal((await users(['add', 'root', '--users', file, '--password-stdin', '--no-admin'], 'pw3')).code, 0);
  t.equal(admin(), undefined, 'revoked');
  t.notMatch(readFileSync(file, 'utf8'), /admin/, 'written only when true');
});

t.test('remove deletes a user; an unknown user exits 2', async (t) => {
  const file = freshFile();
  t.equal((await users(['add', 'alice', '--users', file, '--password-stdin'], 'pw')).code, 0);
  t.equal((await users(['add', 'bob', '--users', file, '--password-stdin'], 'pw')).code, 0);
  t.equal((await users(['remove', 'alice', '--users', file])).code, 0);
  t.same(Object.keys(parseUsersFile(readFileSync(file, 'utf8')).users), ['bob']);
  const unknown = await users(['remove', 'alice', '--users', file]);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /alice/);
});

t.test('bad usage exits 2 and leaves the file alone', async (t) => {
  const file = freshFile();
  t.equal((await users(['add', 'alice', '--users', file, '--password-stdin'], 'pw')).code, 0);
  const before = readFileSync(file, 'utf8');
  const cases: [string[], string][] = [
    [['add', 'bad name', '--users', file, '--password-stdin'], 'pw'],
    [['add', 'x'.repeat(65), '--users', file, '--password-stdin'], 'pw'],
    [['add', 'carol', '--users', file, '--password-stdin', '--publish', 'a..b'], 'pw'],
    [['add', 'carol', '--users', file, '--password-stdin', '--subscribe', 'a.>.b'], 'pw'],
    [['add', 'carol', '--users', file, '--password-stdin'], ''],
    [['add', 'carol', '--users', file, '--password-stdin'], '\n'],
    [['add', 'carol', '--users', file, '--password-stdin'], 'x'.repeat(2000)],
    [['add', 'carol', '--users', file], 'pw'], // stdin is not a terminal to prompt on
    [['add', 'carol', '--password-stdin'], 'pw'], // no --users
    [['add', '--users', file, '--password-stdin'], 'pw'], // no name
    [['rename', 'alice', '--users', file], ''],
    [['list', '--users', join(DIR, 'missing.json')], ''],
    [[], ''],
  ];
  // Independent failures: run them side by side to keep the file fast.
  const results = await Promise.all(cases.map(([args, stdin]) => users(args, stdin)));
  results.forEach((r, i) => {
    t.equal(r.code, 2, cases[i]![0].join(' '));
    t.not(r.stderr, '', 'says why');
  });
  t.equal(readFileSync(file, 'utf8'), before);
});

t.test('an invalid users file is refused, not overwritten', async (t) => {
  const file = freshFile();
  writeFileSync(file, '{"users": []}');
  const r = await users(['add', 'alice', '--users', file, '--password-stdin'], 'pw');
  t.equal(r.code, 2);
  t.equal(readFileSync(file, 'utf8'), '{"users": []}');
});

t.test('--help exits 0', async (t) => {
  const r = await users(['add', '--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /--password-stdin/);
});
