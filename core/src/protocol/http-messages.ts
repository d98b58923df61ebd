/**
 * Pure codecs of the HTTP messages API (DESIGN section 7): the body of `POST /v1/messages`
 * (one message or a JSON array of them, `tag`/`text` accepted for `topic`/`data`) and the
 * query of `GET /v1/messages`. Faults throw ProtocolError (BAD_FRAME, BAD_TOPIC) or
 * ParameterError (naming the parameter).
 */
import { ProtocolError } from './errors.js';
import { isValidPattern, isValidTopic } from './topics.js';
import { MAX_ID_LENGTH } from './v1.js';

export interface PostedMessage {
  topic: string;
  /** JSON text of the payload. */
  data: string;
  id?: string;
}

export interface PostedBody {
  messages: PostedMessage[];
  /** Whether the body was an array (the answer is then the batch form). */
  batch: boolean;
}

/** History limits: `limit` defaults to 100 and may not pass 1 000. */
/** The messages API's one path: POST publishes (publisher), GET reads the history or streams it (subscriber). */
export const MESSAGES_PATH = '/v1/messages';
export const HISTORY_DEFAULT_LIMIT = 100;
export const HISTORY_MAX_LIMIT = 1000;

/** A query parameter that is missing or not valid; `param` names it (the message does not repeat it). */
export class ParameterError extends Error {
  readonly code = 'BAD_PARAMETER';
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
    this.name = 'ParameterError';
  }
}

/**
 * Decodes a POST body: an object, or a non-empty array of at most `maxBatch` objects. `id`
 * (1-128 characters) may also come from the Idempotency-Key header, for a single message only.
 */
export function decodePostBody(text: string, maxBatch: number, idempotencyKey?: string): PostedBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('BAD_FRAME', 'the body is not valid JSON');
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ProtocolError('BAD_FRAME', 'the batch is empty');
    if (value.length > maxBatch) throw new ProtocolError('BAD_FRAME', `a batch holds at most ${maxBatch} messages`);
    if (idempotencyKey !== undefined) {
      throw new ProtocolError('BAD_FRAME', 'Idempotency-Key names one message; give each message of a batch its id');
    }
    return { messages: value.map((v, i) => decodeItem(v, `message ${i}: `)), batch: true };
  }
  const msg = decodeItem(value, '');
  if (idempotencyKey !== undefined) {
    const key = checkId(idempotencyKey, 'Idempotency-Key');
    if (msg.id !== undefined && msg.id !== key) {
      throw new ProtocolError('BAD_FRAME', 'id and Idempotency-Key differ');
    }
    msg.id = key;
  }
  return { messages: [msg], batch: false };
}

function decodeItem(value: unknown, where: string): PostedMessage {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError('BAD_FRAME', `${where}a message must be a JSON object`);
  }
  const obj = value as Record<string, unknown>;
  const topic = obj.topic ?? obj.tag;
  if (typeof topic !== 'string') throw new ProtocolError('BAD_FRAME', `${where}topic (or tag) must be a string`);
  if (!isValidTopic(topic)) {
    throw new ProtocolError(
      'BAD_TOPIC',
      `${where}topic must be 1-255 printable ASCII characters without spaces or wildcards`,
    );
  }
  const hasData = 'data' in obj;
  if (!hasData && !('text' in obj)) throw new ProtocolError('BAD_FRAME', `${where}data (or text) is missing`);
  let data: string;
  try {
    data = JSON.stringify(hasData ? obj.data : obj.text);
  } catch {
    throw new ProtocolError('BAD_FRAME', `${where}data is nested too deeply`);
  }
  const msg: PostedMessage = { topic, data };
  if (obj.id !== undefined) msg.id = checkId(obj.id, `${where}id`);
  return msg;
}

function checkId(id: unknown, what: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new ProtocolError('BAD_FRAME', `${what} must be a string of 1-${MAX_ID_LENGTH} characters`);
  }
  return id;
}

export interface HistoryQuery {
  pattern: string;
  /** Messages with seq > since (0: from the oldest retained). */
  since: number;
  /** ms since the epoch: messages with ts >= dateStart, when given. */
  dateStart?: number;
  /** ms since the epoch: messages with ts < dateEnd, when given. */
  dateEnd?: number;
  limit: number;
  count: boolean;
}

const KNOWN = new Set(['topic', 'since', 'dateStart', 'dateEnd', 'limit', 'count']);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Decodes the query of `GET /v1/messages`; throws ParameterError naming the first bad parameter. */
export function decodeHistoryQuery(params: URLSearchParams): HistoryQuery {
  for (const key of params.keys()) {
    if (!KNOWN.has(key)) throw new ParameterError(key, 'unknown parameter');
  }
  for (const key of KNOWN) {
    if (params.getAll(key).length > 1) throw new ParameterError(key, 'may be given once');
  }
  const pattern = params.get('topic');
  if (pattern === null) throw new ParameterError('topic', 'required: a topic or pattern');
  if (!isValidPattern(pattern)) throw new ParameterError('topic', 'not a valid topic or pattern');
  const q: HistoryQuery = {
    pattern,
    since: intParam(params, 'since', 0, Number.MAX_SAFE_INTEGER) ?? 0,
    limit: intParam(params, 'limit', 1, HISTORY_MAX_LIMIT) ?? HISTORY_DEFAULT_LIMIT,
    count: false,
  };
  const start = dateParam(params, 'dateStart');
  const end = dateParam(params, 'dateEnd');
  if (start !== undefined) q.dateStart = start;
  if (end !== undefined) q.dateEnd = end;
  if (start !== undefined && end !== undefined && end < start) {
    throw new ParameterError('dateEnd', 'before dateStart');
  }
  const count = params.get('count');
  if (count !== null) {
    if (count !== '1' && count !== '0' && count !== 'true' && count !== 'false') {
      throw new ParameterError('count', 'must be 1 or 0');
    }
    q.count = count === '1' || count === 'true';
  }
  return q;
}

function intParam(params: URLSearchParams, key: string, min: number, max: number): number | undefined {
  const raw = params.get(key);
  if (raw === null) return undefined;
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ParameterError(key, `must be an integer from ${min} to ${max}`);
  }
  return n;
}

function dateParam(params: URLSearchParams, key: string): number | undefined {
  const raw = params.get(key);
  if (raw === null) return undefined;
  const ms = ISO_DATE.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new ParameterError(key, 'must be an ISO 8601 date, e.g. 2026-01-31T12:00:00Z');
  }
  return ms;
}
