/** Small helpers shared by the JSON codecs. */
import { ProtocolError } from './errors.js';

export type JsonObject = Record<string, unknown>;

/** Parses one frame as a JSON object, or throws BAD_FRAME. */
export function parseObject(text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('BAD_FRAME', 'frame is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError('BAD_FRAME', 'frame must be a JSON object');
  }
  return value as JsonObject;
}

export function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A JSON string literal for `s`. */
export const quote = JSON.stringify as (s: string) => string;

/**
 * The inside of a JSON string literal that holds nothing JSON escapes (`"`, `\` or a control
 * character), as a regular-expression source. Hot paths test whole frames and payloads
 * against it instead of parsing them: V8 compiles a regular expression to native code, about
 * 0.12 µs for a 70-character payload where a charCodeAt loop took 0.2 µs.
 */
export const PLAIN_JSON_CHARS = '[^"\\\\\\x00-\\x1f]*';

/** A JSON string literal without escapes or control characters: most payloads, checked without a parse. */
const PLAIN_JSON_STRING = new RegExp(`^"${PLAIN_JSON_CHARS}"$`);

/**
 * Whether `text` is one complete JSON value. The msgqueue checks every payload a producer
 * appends: subscribers splice `data` into client frames as it is, so text that is not JSON
 * (or is several values) would break those frames or inject fields into them.
 */
export function isJsonText(text: string): boolean {
  if (PLAIN_JSON_STRING.test(text)) return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
