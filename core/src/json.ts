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
