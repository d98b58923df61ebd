/**
 * `--allowed-origins`: exact web origins (`https://app.example.com`), or `https://*.example.com`
 * for any subdomain at any depth. Both sides are compared in the form browsers send: scheme and
 * host in lower case, the default port (443 for https, 80 for http) left out.
 */
import { ConfigError } from '../protocol/errors.js';

const FIELD = 'allowedOrigins';
/** http(s)://host[:port] and nothing else: no user info, path, query or fragment. */
const ORIGIN_SHAPE = /^https?:\/\/[^/\\?#@\s*]+$/i;
/** The same, or with `*.` before the host. */
const PATTERN_SHAPE = /^(https?):\/\/(\*\.)?([^/\\?#@\s*]+)$/i;
/** Stands in for `*` while the URL parser checks and normalises the rest of the host. */
const WILDCARD_LABEL = 'wildcard--';

/**
 * Checks one configured origin and returns it normalised; throws ConfigError naming the
 * field otherwise (config time, so a typo fails the start instead of refusing every browser).
 */
export function parseAllowedOrigin(raw: string): string {
  const value = raw.trim();
  if (value === '*') {
    throw new ConfigError(FIELD, '"*" is not an origin; leave allowedOrigins empty to accept any Origin');
  }
  if (!PATTERN_SHAPE.test(value)) {
    throw new ConfigError(
      FIELD,
      `${JSON.stringify(raw)} is not an origin: expected http(s)://host[:port] with no path, ` +
        'or https://*.example.com',
    );
  }
  const origin = normalisePattern(value);
  if (origin === undefined) throw new ConfigError(FIELD, `${JSON.stringify(raw)} is not a valid origin`);
  return origin;
}

/** Whether a request's Origin header passes. */
export type OriginCheck = (origin: string | undefined) => boolean;

/**
 * The check for `allowed`, whose entries are normalised once here rather than per request. No
 * header (non-browser clients) or an empty list: yes.
 */
export function originChecker(allowed: readonly string[]): OriginCheck {
  if (allowed.length === 0) return () => true;
  const patterns = allowed.map(normalisePattern).filter((p): p is string => p !== undefined);
  return (origin) => {
    if (origin === undefined) return true;
    const o = normalise(origin);
    return o !== undefined && patterns.some((p) => patternMatches(p, o));
  };
}

/** originChecker(allowed)(origin), for a single question. */
export function originAllowed(allowed: readonly string[], origin: string | undefined): boolean {
  return originChecker(allowed)(origin);
}

/** Does the normalised pattern `p` (exact, or with `*.`) admit the normalised origin `o`? */
function patternMatches(p: string, o: string): boolean {
  const star = p.indexOf('://*.');
  if (star === -1) return p === o;
  const scheme = p.slice(0, star + 3);
  const suffix = p.slice(star + 4); // ".example.com" or ".example.com:8443"
  return o.startsWith(scheme) && o.endsWith(suffix) && o.length > scheme.length + suffix.length;
}

/** A configured origin, wildcard or not, normalised; undefined when it is not one. */
function normalisePattern(raw: string): string | undefined {
  const shape = PATTERN_SHAPE.exec(raw.trim());
  if (!shape) return undefined;
  const [, scheme, wildcard, rest] = shape;
  const origin = normalise(`${scheme}://${wildcard ? WILDCARD_LABEL + '.' : ''}${rest}`);
  return origin !== undefined && wildcard ? origin.replace(`://${WILDCARD_LABEL}.`, '://*.') : origin;
}

/** The serialised origin of an http(s) scheme://host[:port]; undefined for anything else. */
function normalise(value: string): string | undefined {
  if (!ORIGIN_SHAPE.test(value)) return undefined;
  try {
    return new URL(value).origin;
  } catch {
    return undefined;
  }
}
