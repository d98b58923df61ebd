/**
 * The ws-go wire format: one JSON object `{"Topic":"…","Content":"…"}` per text frame, on
 * every path (client publish, client subscribe, queue push and pop, delivery).
 * ws-go decodes with Go's encoding/json, which matches keys case-insensitively, so we do too.
 */
import { ProtocolError } from './errors.js';
import { parseObject, PLAIN_JSON_CHARS, quote } from './json.js';

export interface LegacyMessage {
  topic: string;
  content: string;
}

/**
 * The value Go's decoder would put in the struct field `name`: every key that matches it in
 * any letter case assigns it in turn, so the last one wins (`{"Topic":"a","topic":"b"}` is
 * "b"). JSON.parse keeps a repeated key where it first appeared, with its last value: for a
 * key repeated in the same spelling around another spelling, ws-go and wsq may differ.
 */
function field(obj: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  let value: unknown;
  for (const key of Object.keys(obj)) if (key.length === name.length && key.toLowerCase() === lower) value = obj[key];
  return value;
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

/**
 * `{"Topic":"…","Content":"…"}` with nothing JSON would have escaped in either string. One
 * regular expression over the frame: a charCodeAt loop cost 0.8 µs per message, the
 * publisher's top function.
 */
const CANONICAL_LEGACY = new RegExp(`^\\{"Topic":"${PLAIN_JSON_CHARS}","Content":"${PLAIN_JSON_CHARS}"\\}$`);
const TOPIC_START = '{"Topic":"'.length;
/** From the `"` ending the topic to the `"` opening the Content: `","Content":`. */
const TO_CONTENT = '","Content":'.length;

/**
 * The publisher's hot path: a legacy frame to its topic and data (the Content as a JSON string).
 * Frames in the exact shape ws-go and most clients send, `{"Topic":"…","Content":"…"}` with
 * nothing escaped, are sliced without a parse, and the data is the Content's own quoted bytes
 * (what `contentToData` would produce); anything else goes through `decodeLegacy`. Throws as
 * decodeLegacy does.
 */
export function decodeLegacyToData(text: string): { topic: string; data: string } {
  if (CANONICAL_LEGACY.test(text)) {
    const topicEnd = text.indexOf('"', TOPIC_START);
    return { topic: text.slice(TOPIC_START, topicEnd), data: text.slice(topicEnd + TO_CONTENT, text.length - 1) };
  }
  const { topic, content } = decodeLegacy(text);
  return { topic, data: contentToData(content) };
}

/**
 * The legacy frame for a message whose data is JSON text: the counterpart of
 * decodeLegacyToData, and the same as encodeLegacy(topic, dataToContent(data)) without the
 * parse and re-quote. A JSON string `data` already is the Content as a JSON string and goes in
 * as it is: wsq's publisher writes `data` with JSON.stringify, so the bytes are the same; JSON
 * text from another producer may keep other escapes (`\u00e9` for `é`) and decodes to the
 * same value, which is what a legacy client reads. Any other JSON value is its own text.
 * Trusts `data` to be JSON text, as the link protocol requires.
 */
export function encodeLegacyData(topic: string, data: string): string {
  if (data.charCodeAt(0) === 0x22 /* " */) return `{"Topic":${quote(topic)},"Content":${data}}`;
  return encodeLegacy(topic, data);
}

/** A legacy Content becomes a JSON string value. */
export function contentToData(content: string): string {
  return quote(content);
}
