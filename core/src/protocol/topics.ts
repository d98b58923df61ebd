/**
 * Topic names and subscription patterns, as NATS spells them: tokens separated by `.`,
 * `*` matches exactly one token, `>` (last token only) matches one or more tokens.
 */
export const MAX_TOPIC_LENGTH = 255;

const DOT = 0x2e;
const STAR = 0x2a;
const GT = 0x3e;

/**
 * Printable ASCII without space (0x21..0x7e), 1..255 characters, no empty token ("a..b",
 * ".a", "a." make matching ambiguous). One pass, no allocation: this runs per published message.
 */
function validTokens(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > MAX_TOPIC_LENGTH) return false;
  let prev = DOT;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || (c === DOT && prev === DOT)) return false;
    prev = c;
  }
  return prev !== DOT;
}

/** A concrete topic one can publish to: no wildcards (`*` or `>` as a whole token). */
export function isValidTopic(s: unknown): s is string {
  if (typeof s !== 'string' || !validTokens(s)) return false;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (
      (c === STAR || c === GT) &&
      (i === 0 || s.charCodeAt(i - 1) === DOT) &&
      (i + 1 === n || s.charCodeAt(i + 1) === DOT)
    )
      return false;
  }
  return true;
}

/**
 * A subscription pattern: `*` as a whole token anywhere, `>` as the whole last token. As in
 * NATS, a token that merely contains `*` or `>` (`a.*b`, `x>`) is a literal, the same token a
 * concrete topic may hold, so whatever can be published to can be subscribed to by name.
 */
export function isValidPattern(s: unknown): s is string {
  if (typeof s !== 'string' || !validTokens(s)) return false;
  const toks = s.split('.');
  for (let i = 0; i < toks.length - 1; i++) if (toks[i] === '>') return false;
  return true;
}

/** Does `pattern` match the concrete `topic`? Both assumed valid. Walks both strings, no split. */
export function matchesPattern(pattern: string, topic: string): boolean {
  if (pattern === topic) return true;
  const pn = pattern.length;
  const tn = topic.length;
  let p = 0;
  let t = 0;
  while (p < pn) {
    if (t >= tn) return false; // the pattern has more tokens than the topic
    const pEnd = tokenEnd(pattern, p);
    const tEnd = tokenEnd(topic, t);
    const wild = pEnd - p === 1 ? pattern.charCodeAt(p) : 0;
    if (wild === GT) return true; // `>` is last and matches the rest (at least one token)
    if (wild !== STAR) {
      if (pEnd - p !== tEnd - t || !sameChars(pattern, p, topic, t, pEnd - p)) return false;
    }
    p = pEnd + 1;
    t = tEnd + 1;
  }
  return t >= tn;
}

function sameChars(a: string, ai: number, b: string, bi: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a.charCodeAt(ai + k) !== b.charCodeAt(bi + k)) return false;
  return true;
}

function tokenEnd(s: string, from: number): number {
  const i = s.indexOf('.', from);
  return i === -1 ? s.length : i;
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
