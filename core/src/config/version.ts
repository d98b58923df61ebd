/** What every binary's `--version` prints. */
import { wsqVersion } from '../observe/build-info.js';

export function versionLine(): string {
  return `wsq ${wsqVersion()}`;
}
