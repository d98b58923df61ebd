/** The wsq version: @wsq/core's package.json version (every wsq package is versioned together). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** Read once, on first use (from core/dist/src/config/ the package root is three levels up). */
export function wsqVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    cached = pkg.version;
  }
  return cached;
}

/** What every binary's `--version` prints. */
export function versionLine(): string {
  return `wsq ${wsqVersion()}`;
}
