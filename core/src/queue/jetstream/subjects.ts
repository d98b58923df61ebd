/**
 * wsq topics and patterns as NATS subjects (DESIGN section 5, JetStream): a topic `a.b`
 * is stored on the subject `wsq.a.b`.
 *
 * wsq topics are 1-255 printable ASCII characters without whitespace, in non-empty tokens
 * separated by `.`; a token that merely contains `*` or `>` (`a*b`, `x>`) is a literal.
 * NATS gives `*` and `>` meaning, so each token is escaped, character by character:
 *
 *   `%` → `%25`   `*` → `%2A`   `>` → `%3E`   every other character stays as it is.
 *
 * An escaped token never contains `*` or `>`, is never empty and has no whitespace, so every
 * valid topic maps to a valid publish subject; `%` always starts an escape, so the mapping is
 * reversible. In a subscription pattern a whole-token `*` or `>` stays a NATS wildcard and
 * every other token is escaped the same way, so `chat.*` filters `wsq.chat.*`, and the
 * literal pattern `a*b` filters exactly the subject of the topic `a*b`.
 */
export const SUBJECT_PREFIX = 'wsq.';
/** The filter of every message of the stream. */
export const ALL_SUBJECTS = 'wsq.>';

const NEEDS_ESCAPE = /[%*>]/g;
const ESCAPES: Record<string, string> = { '%': '%25', '*': '%2A', '>': '%3E' };
const UNESCAPES: Record<string, string> = { '%25': '%', '%2A': '*', '%3E': '>' };
const ESCAPED = /%(25|2A|3E)/g;

function escapeToken(token: string): string {
  return token.replace(NEEDS_ESCAPE, (c) => ESCAPES[c]!);
}

/** The subject of a concrete topic (assumed valid: protocol/topics.ts isValidTopic). */
export function topicToSubject(topic: string): string {
  // Topics of plain characters are the common case: no split, no join.
  if (topic.search(NEEDS_ESCAPE) === -1) return SUBJECT_PREFIX + topic;
  return SUBJECT_PREFIX + escapeToken(topic);
}

/**
 * The topic of a subject of the stream, or undefined for one that is not ours (another
 * writer's `wsq.` message with a stray `%`, or a subject outside the prefix).
 */
export function subjectToTopic(subject: string): string | undefined {
  if (!subject.startsWith(SUBJECT_PREFIX)) return undefined;
  const rest = subject.slice(SUBJECT_PREFIX.length);
  if (rest.indexOf('%') === -1) return rest;
  const topic = rest.replace(ESCAPED, (e) => UNESCAPES[e]!);
  return topicToSubject(topic) === subject ? topic : undefined;
}

/** The NATS filter subject of a subscription pattern (assumed valid: isValidPattern). */
export function patternToFilter(pattern: string): string {
  if (pattern.search(NEEDS_ESCAPE) === -1) return SUBJECT_PREFIX + pattern;
  return (
    SUBJECT_PREFIX +
    pattern
      .split('.')
      .map((t) => (t === '*' || t === '>' ? t : escapeToken(t)))
      .join('.')
  );
}
