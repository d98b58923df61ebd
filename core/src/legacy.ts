/**
 * The ws-go wire format: one JSON object `{"Topic":"…","Content":"…"}` per text frame, on
 * every path (client publish, client subscribe, queue push and pop, delivery).
 * ws-go decodes with Go's encoding/json, which matches keys case-insensitively, so we do too.
 */
import { ProtocolError } from './errors.js';
import { parseObject, quote } from './json.js';

export interface LegacyMessage {
  topic: string;
  content: string;
}

function field(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

/** Decodes a legacy frame; throws BAD_FRAME (the caller ignores and counts it). */
export function decodeLegacy(text: string): LegacyMessage {
  const obj = parseObject(text);
  const topic = field(obj, 'Topic');
  const content = field(obj, 'Content') ?? '';
  if (typeof topic !== 'string' || typeof content !== 'string') {
    throw new ProtocolError('BAD_FRAME', 'Topic and Content must be strings');
  }
  return { topic, content };
}

export function encodeLegacy(topic: string, content: string): string {
  return `{"Topic":${quote(topic)},"Content":${quote(content)}}`;
}

/**
 * Mixed-mode rule (DESIGN 3.2): a message's data is JSON text. A JSON string reaches legacy
 * clients as its value; any other JSON value as its JSON text.
 */
export function dataToContent(data: string): string {
  if (data.charCodeAt(0) === 0x22 /* " */) {
    try {
      return JSON.parse(data) as string;
    } catch {
      return data;
    }
  }
  return data;
}

/** A legacy Content becomes a JSON string value. */
export function contentToData(content: string): string {
  return quote(content);
}
