/**
 * Separates the command words (`pub news hello`) from the flags before core's loadConfig,
 * which only knows flags. A flag takes the next word as its value unless it is boolean.
 */
import { flagName, type OptionSpec } from '@wsq/core';

export interface SplitArgv {
  /** Command words in order: [] (interactive), ['pub', topic, ...text], ['sub', ...topics]. */
  words: string[];
  flags: string[];
}

export function splitArgv(argv: readonly string[], specs: readonly OptionSpec[]): SplitArgv {
  const takesValue = new Set(['--config', ...specs.filter((s) => s.type !== 'bool').map((s) => flagName(s.key))]);
  const words: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      flags.push(arg);
      if (!arg.includes('=') && takesValue.has(arg) && i + 1 < argv.length) flags.push(argv[++i]!);
      continue;
    }
    words.push(arg);
  }
  return { words, flags };
}
