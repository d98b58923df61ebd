/**
 * The packages work outside the checkout: `npm pack` core, msgqueue and publisher, install the
 * tarballs into an empty directory (dependencies from the npm cache that `npm ci` filled; the
 * registry only if the cache lacks something), then run the installed programs: `--version`,
 * and the msgqueue on port 0 until it logs that it listens, then SIGTERM.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { testTls } from '@wsq/core/testing';
import t from 'tap';
import { ROOT } from './harness.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** No WSQ_* from the shell, and none of the npm_* settings of an `npm test` around us. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSQ_') && !/^npm_/i.test(k)));

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(cmd, args, { cwd, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  return once(child, 'close').then(([code]) => ({ code: code as number | null, out }));
}

const DIR = mkdtempSync(join(tmpdir(), 'wsq-pack-'));
t.teardown(() => rmSync(DIR, { recursive: true, force: true }));
const APP = join(DIR, 'app');

t.test('npm pack core, msgqueue and publisher; install the tarballs outside the checkout', async (t) => {
  const workspaces = ['core', 'msgqueue', 'publisher'];
  const packed = await run(
    NPM,
    ['pack', '--json', '--pack-destination', DIR, ...workspaces.flatMap((w) => ['-w', w])],
    ROOT,
  );
  if (packed.code !== 0) t.comment(packed.out);
  t.equal(packed.code, 0, 'npm pack');
  const infos = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as {
    name: string;
    filename: string;
    files: { path: string }[];
  }[];
  t.same(
    infos.map((i) => i.name),
    workspaces.map((w) => `@wsq/${w}`),
  );
  for (const info of infos) {
    const files = info.files.map((f) => f.path);
    t.ok(
      files.some((f) => f.startsWith('dist/src/')),
      `${info.name} ships dist/src`,
    );
    t.notOk(
      files.some((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.startsWith('test/')),
      `${info.name} ships no tests nor sources`,
    );
  }
  const tarballs = infos.map((i) => join(DIR, i.filename));
  mkdirSync(APP);
  writeFileSync(join(APP, 'package.json'), JSON.stringify({ name: 'wsq-pack-test', private: true }));
  const flags = ['--no-audit', '--no-fund', '--no-package-lock'];
  let r = await run(NPM, ['install', '--offline', ...flags, ...tarballs], APP);
  if (r.code !== 0) {
    t.comment('the npm cache lacks some metadata: installing with --prefer-offline');
    r = await run(NPM, ['install', '--prefer-offline', ...flags, ...tarballs], APP);
  }
  t.equal(r.code, 0, r.out);
});

t.test('the installed wsq-publisher answers --version', async (t) => {
  const r = await run(join(APP, 'node_modules/.bin/wsq-publisher'), ['--version'], APP);
  t.equal(r.code, 0, r.out);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'core/package.json'), 'utf8')) as { version: string };
  t.equal(r.out, `wsq ${version}\n`);
});

t.test('the installed wsq-msgqueue starts on port 0 and stops on SIGTERM', async (t) => {
  const tls = await testTls();
  const child = spawn(
    join(APP, 'node_modules/.bin/wsq-msgqueue'),
    [
      '--port',
      '0',
      '--demo',
      '--cert',
      tls.certPath,
      '--key',
      tls.keyPath,
      '--ca',
      tls.caPath,
      '--data-dir',
      join(DIR, 'data'),
    ],
    { cwd: APP, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = once(child, 'exit');
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let port: number | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const entry = JSON.parse(line) as { msg?: string; port?: number };
    if (/listening on https:/.test(entry.msg ?? '')) {
      port = entry.port;
      break;
    }
  }
  t.ok(port !== undefined && port > 0, `listening on port ${port} ${stderr}`);
  child.kill('SIGTERM');
  const [code] = await exited;
  t.equal(code, 0, 'SIGTERM stops it cleanly');
});
