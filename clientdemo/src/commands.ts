/** The REPL's little language, parsed without side effects. */
import { isValidPattern, isValidTopic } from '@wsq/core';

export type Command =
  | { kind: 'sub'; patterns: string[] }
  | { kind: 'unsub'; patterns: string[] }
  | { kind: 'pub'; topic: string; text: string }
  | { kind: 'exit' }
  | { kind: 'help' }
  | { kind: 'empty' }
  | { kind: 'bad'; message: string };

export const HELP = [
  'commands:',
  '  sub TOPIC…          subscribe (patterns: * one token, > the rest, as NATS)',
  '  unsub TOPIC…        unsubscribe',
  '  TOPIC message text  publish',
  '  help                this text',
  '  exit                quit (also Ctrl-D)',
].join('\n');

export function parseCommand(line: string): Command {
  const trimmed = line.trim();
  if (trimmed === '') return { kind: 'empty' };
  const [head = '', ...rest] = trimmed.split(/\s+/);
  if (trimmed === 'exit' || trimmed === 'quit') return { kind: 'exit' };
  if (trimmed === 'help' || trimmed === '?') return { kind: 'help' };
  if (head === 'sub' || head === 'unsub') {
    if (rest.length === 0) return { kind: 'bad', message: `usage: ${head} TOPIC…` };
    const bad = rest.find((p) => !isValidPattern(p));
    if (bad !== undefined) return { kind: 'bad', message: `not a valid topic pattern: ${JSON.stringify(bad)}` };
    return { kind: head, patterns: rest };
  }
  if (!isValidTopic(head)) {
    return {
      kind: 'bad',
      message: `not a valid topic: ${JSON.stringify(head)} (printable ASCII, no spaces or wildcards)`,
    };
  }
  // The text is everything after the topic and one run of blanks, spacing kept.
  const text = trimmed.slice(head.length).replace(/^\s+/, '');
  if (text === '') return { kind: 'bad', message: 'usage: TOPIC message text (type help for the commands)' };
  return { kind: 'pub', topic: head, text };
}
