/** The real entry point as a child process: CLI outcomes, serving, SIGTERM, kill -9 durability. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { LINK_PROTOCOL } from '@wsq/core';
import { connectWs, httpsRequest, testTls, type Teardown } from '@wsq/core/testing';
import { JOURNAL_DEFAULTS, openJournal } from '../src/journal/journal.js';
import { JOURNAL_SUBDIR } from '../src/service.js';
import { LinkClient, tempDir, USER } from './helpers/queue.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(t: Teardown, args: string[], cwd: string): Promise<Exit> {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, WSQ_LOG_LEVEL: 'warn' } });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Starts the service and resolves with its port once it logged that it listens. */
async function serve(t: Teardown, dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const tls = await testTls();
  const args = [
    '--port',
    '0',
    '--cert',
    tls.certPath,
    '--key',
    tls.keyPath,
    '--ca',
    tls.caPath,
    '--demo',
    '--data-dir',
    dataDir,
    '--log-level',
    'info',
  ];
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: dataDir, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on https:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
  });
  return { child, port };
}

t.test('--help exits 0 and lists the msgqueue flags', async (t) => {
  const r = await run(t, ['--help'], await tempDir(t));
  t.equal(r.code, 0);
  t.match(r.stdout, /--data-dir/);
  t.match(r.stdout, /--fsync/);
});

t.test('an invalid --fsync exits 2 naming the field', async (t) => {
  const r = await run(t, ['--fsync', 'sometimes'], await tempDir(t));
  t.equal(r.code, 2);
  t.match(r.stderr, /fsync/);
});

t.test('refuses to start without a certificate: exit 2 naming cert', async (t) => {
  const r = await run(t, ['--port', '0', '--cert', '/nonexistent/server.crt', '--demo'], await tempDir(t));
  t.equal(r.code, 2);
  t.match(r.stderr, /cert/);
});

t.test('serves, and SIGTERM stops it cleanly with status 0', async (t) => {
  const dir = await tempDir(t);
  const { child, port } = await serve(t, dir);
  const { ca } = await testTls();
  t.equal((await httpsRequest(`https://localhost:${port}/healthz`, { ca })).status, 200);
  t.equal((await httpsRequest(`https://localhost:${port}/readyz`, { ca })).status, 200);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  t.equal(code, 0);
});

t.test('kill -9 loses nothing that was acknowledged (fsync batch)', async (t) => {
  const dir = await tempDir(t);
  const { ca } = await testTls();
  const first = await serve(t, dir);
  const p = new LinkClient(
    await connectWs(`wss://localhost:${first.port}/pushmsg`, { ca, ...USER, protocol: LINK_PROTOCOL }),
  );
  const seqs = await p.append(
    1,
    Array.from({ length: 50 }, (_, i) => ({ topic: 'k', data: String(i) })),
  );
  t.equal(seqs.length, 50);
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');
  p.ws.terminate();

  const second = await serve(t, dir);
  const c = new LinkClient(
    await connectWs(`wss://localhost:${second.port}/popmsg`, { ca, ...USER, protocol: LINK_PROTOCOL }),
  );
  t.teardown(() => c.ws.terminate());
  c.send({ op: 'consume', name: 'after-crash', window: 100 });
  t.match(await c.expect('consuming'), { next: 1, last: 50 });
  t.same(
    (await c.receive(50)).map((m) => m.data),
    Array.from({ length: 50 }, (_, i) => String(i)),
  );
});

/** Runs the msgqueue with test certificates, so only `extra` can make it fail. */
async function runWithTls(t: Teardown, extra: string[], cwd: string): Promise<Exit> {
  const tls = await testTls();
  return run(
    t,
    ['--port', '0', '--cert', tls.certPath, '--key', tls.keyPath, '--ca', tls.caPath, '--demo', ...extra],
    cwd,
  );
}

t.test('a --data-dir that is a regular file exits 2 naming --data-dir, without a stack trace', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'not-a-dir');
  await writeFile(file, '');
  const r = await runWithTls(t, ['--data-dir', file], dir);
  t.equal(r.code, 2);
  t.match(r.stderr, /invalid configuration: --data-dir: .*not a directory/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const under = await runWithTls(t, ['--data-dir', join(file, 'sub')], dir);
  t.equal(under.code, 2);
  t.match(under.stderr, /--data-dir: .*ENOTDIR/);
});

// Node's recursive mkdir never settles there (procfs answers ENOENT for a child of an existing
// directory); the tap timeout turns a hang into a failure.
const noProc = !existsSync('/proc/self') && 'no /proc here';
t.test(
  'a --data-dir that cannot be created exits 2 naming --data-dir, at once',
  { timeout: 60_000, skip: noProc },
  async (t) => {
    const dir = await tempDir(t);
    for (const dataDir of ['/proc/wsq-nope', '/proc/wsq-nope/a/b', '/proc']) {
      const r = await runWithTls(t, ['--data-dir', dataDir], dir);
      t.equal(r.code, 2, dataDir);
      t.match(r.stderr, /invalid configuration: --data-dir: /, dataDir);
    }
  },
);

const asRoot = process.getuid?.() === 0 && 'root may write anywhere';
t.test('a --data-dir it may not write in exits 2 naming --data-dir', { skip: asRoot }, async (t) => {
  const dir = await tempDir(t);
  const locked = join(dir, 'locked');
  await mkdir(locked, { mode: 0o500 });
  t.teardown(() => chmod(locked, 0o700));
  const r = await runWithTls(t, ['--data-dir', locked], dir);
  t.equal(r.code, 2);
  t.match(r.stderr, /--data-dir: .*EACCES/);
});

t.test('a corrupt journal exits 1 with its code, not a stack trace', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const journalDir = join(dir, JOURNAL_SUBDIR);
  const journal = await openJournal({
    ...JOURNAL_DEFAULTS,
    dir: journalDir,
    fsync: 'never',
    segmentBytes: 200,
    retainMs: 0,
  });
  for (let i = 0; i < 6; i++) await journal.append([{ topic: 't', data: 'x'.repeat(50), ts: 1 }]);
  await journal.close();
  const [, second] = (await readdir(journalDir)).sort();
  t.ok(second, 'the journal has two segments');
  // A segment starting inside its predecessor's seqs: the journal cannot be read safely.
  await writeFile(join(journalDir, `${'2'.padStart(20, '0')}.log`), '');
  const r = await runWithTls(t, ['--data-dir', dir], dir);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot start: JOURNAL_CORRUPT: /);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
