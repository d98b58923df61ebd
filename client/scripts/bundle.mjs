// Builds the browser ESM bundle dist/browser/wsq-client.js from src/browser.ts (run by the
// root build after tsc). It fails if anything pulls in `ws` or a node: module.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/browser.ts'],
  outfile: 'dist/browser/wsq-client.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  external: [],
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs);
const foreign = inputs.filter((p) => !p.startsWith('src/'));
if (foreign.length > 0) {
  console.error(`the browser bundle must hold only client/src, but it pulls in: ${foreign.join(', ')}`);
  process.exit(1);
}
