/** Every program answers `--version` with `wsq <version>` (core's package version), exit 0. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from './harness.js';

const { version } = JSON.parse(readFileSync(join(ROOT, 'core/package.json'), 'utf8')) as { version: string };
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSQ_')));

/** Every committed launcher: WORKSPACE/bin/NAME.js. */
const BINS = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'node_modules')
  .flatMap((d) => {
    try {
      return readdirSync(join(ROOT, d.name, 'bin'))
        .filter((f) => f.endsWith('.js'))
        .map((f) => join(d.name, 'bin', f));
    } catch {
      return [];
    }
  });

t.test('every bin answers --version', async (t) => {
  for (const name of ['wsq-msgqueue', 'wsq-publisher', 'wsq-subscriber', 'wsq-users', 'wsq-clientdemo', 'wsq-bench']) {
    t.ok(
      BINS.some((b) => b.endsWith(`/${name}.js`)),
      `${name} is among the launchers`,
    );
  }
  const results = await Promise.all(
    BINS.map(async (bin) => {
      const child = spawn(process.execPath, [join(ROOT, bin), '--version'], { cwd: ROOT, env: ENV });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      const [code] = (await once(child, 'close')) as [number | null];
      return { bin, code, out };
    }),
  );
  for (const { bin, code, out } of results) {
    t.equal(code, 0, `${bin} exits 0`);
    t.equal(out, `wsq ${version}\n`, `${bin} prints wsq ${version}`);
  }
});
