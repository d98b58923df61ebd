/** Topic and pattern rules (docs/protocol.md section 3), as NATS: `*` one token, `>` the rest. */
export const MAX_TOPIC_LENGTH = 255;
const PRINTABLE = /^[!-~]+$/;

function tokens(s: unknown): string[] | undefined {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_TOPIC_LENGTH || !PRINTABLE.test(s)) return undefined;
  const parts = s.split('.');
  return parts.includes('') ? undefined : parts;
}

/** A concrete topic: no `*` or `>` tokens. */
export function isValidTopic(s: unknown): s is string {
  const t = tokens(s);
  return t !== undefined && !t.some((x) => x === '*' || x === '>');
}

/** A subscription pattern: `*` as a whole token, `>` only as the whole last token. */
export function isValidPattern(s: unknown): s is string {
  const t = tokens(s);
  return t !== undefined && t.every((x, i) => x !== '>' || i === t.length - 1);
}

export function matchesPattern(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length) return false;
    if (p[i] !== '*' && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}
