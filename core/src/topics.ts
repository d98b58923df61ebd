/**
 * Topic names and subscription patterns, as NATS spells them: tokens separated by `.`,
 * `*` matches exactly one token, `>` (last token only) matches one or more tokens.
 */
export const MAX_TOPIC_LENGTH = 255;

/** Printable ASCII without space (0x21..0x7e). */
function isPrintableNoSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function validTokens(s: string): boolean {
  if (s.length === 0 || s.length > MAX_TOPIC_LENGTH || !isPrintableNoSpace(s)) return false;
  // Empty tokens ("a..b", ".a", "a.") make matching ambiguous, so they are refused.
  return !s.split('.').some((tok) => tok.length === 0);
}

/** A concrete topic one can publish to: no wildcards. */
export function isValidTopic(s: unknown): s is string {
  if (typeof s !== 'string' || !validTokens(s)) return false;
  return !s.split('.').some((tok) => tok === '*' || tok === '>');
}

/** A subscription pattern: `*` as a whole token anywhere, `>` as the whole last token. */
export function isValidPattern(s: unknown): s is string {
  if (typeof s !== 'string' || !validTokens(s)) return false;
  const toks = s.split('.');
  for (let i = 0; i < toks.length; i++) {
    const tok = toks[i]!;
    if (tok === '>' && i !== toks.length - 1) return false;
    if (tok.length > 1 && (tok.includes('*') || tok.includes('>'))) return false;
  }
  return true;
}

/** Does `pattern` match the concrete `topic`? Both assumed valid. */
export function matchesPattern(pattern: string, topic: string): boolean {
  if (pattern === topic) return true;
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    const tok = p[i]!;
    if (tok === '>') return t.length > i;
    if (i >= t.length) return false;
    if (tok !== '*' && tok !== t[i]) return false;
  }
  return p.length === t.length;
}

/** Is every topic matched by `inner` also matched by `outer`? (Used for permissions.) */
export function patternCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const n = inner.split('.');
  for (let i = 0; i < o.length; i++) {
    const tok = o[i]!;
    if (tok === '>') return n.length > i;
    if (i >= n.length) return false;
    const it = n[i]!;
    if (it === '>') return false;
    if (tok !== '*' && tok !== it) return false;
  }
  return o.length === n.length;
}
