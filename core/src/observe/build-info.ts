/** The wsq version, read once from @wsq/core's package.json (all workspaces share it). */
import { readFileSync } from 'node:fs';

let version: string | undefined;

export function wsqVersion(): string {
  if (version === undefined) {
    // dist/src/observe/build-info.js → the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  }
  return version;
}
