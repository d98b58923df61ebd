/**
 * `POST /v1/messages` (DESIGN section 7): one JSON message, or a JSON array of them, published
 * through the same producer as the WebSocket side. The answer comes once the queue journaled
 * every message (the guarantee of a v1 ack): `201 {"seq","topic","id"}` and a `Location`, or
 * for a batch `201 {"messages":[…]}`. An `id` (or the Idempotency-Key header) becomes the same
 * pid a v1 `pub` of that user and id gets, so the two dedupe together.
 *
 * A batch is checked whole before any of it is offered (topics, permissions, rate, outbox
 * room): a refusal at that point publishes nothing. Should the queue fail partway (the link
 * lost), the answer is an error and messages that were journaled stay: a retry with the same
 * ids is then exactly-once (docs/http.md).
 *
 * Rate: one token bucket per user for HTTP posts (--publish-rate-per-sec, --publish-burst),
 * each message one token. The WebSocket side keeps its bucket per connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ProtocolError,
  canPublish,
  decodePostBody,
  isJsonContentType,
  MESSAGES_PATH,
  readBody,
  sendApiError,
  sendJson,
  turnDateNow,
  type ApiContext,
  type ApiRoute,
  type AppendRequest,
  type PostedMessage,
} from '@wsq/core';
import type { PublishEnv } from './connection.js';
import { createTokenBucket, type TokenBucket } from './rate-limit.js';

/** Messages in one batch, at most (each also counts against the rate limit). */
export const MAX_BATCH_MESSAGES = 1000;

export interface HttpPublishEnv extends PublishEnv {
  /** The whole body, one message or a batch, is at most this many bytes (413 past it). */
  maxPayloadBytes: number;
  /** Room left in the producer's outbox, in messages. */
  outboxRoom(): number;
}

/** One request's messages on their way to the queue. */
interface Pending {
  res: ServerResponse;
  msgs: PostedMessage[];
  batch: boolean;
  seqs: number[];
  left: number;
  failed: ProtocolError | undefined;
}

export function httpPublishRoute(env: HttpPublishEnv): ApiRoute {
  const { metrics, limits } = env;
  /** Users publish through a handful of keys: the map holds one bucket per user of the users file. */
  const buckets = new Map<string, TokenBucket>();
  const received = metrics.received('http');

  function bucketOf(user: string): TokenBucket {
    let b = buckets.get(user);
    if (b === undefined) {
      b = createTokenBucket(limits.publishRatePerSec, limits.publishBurst);
      buckets.set(user, b);
    }
    return b;
  }

  function done(at: { p: Pending; i: number }, err: ProtocolError | undefined, seq: number): void {
    const { p } = at;
    if (err !== undefined) p.failed ??= err;
    else p.seqs[at.i] = seq;
    p.left--;
    if (p.left > 0) return;
    if (p.failed) {
      if (p.failed.code === 'UNAVAILABLE') metrics.drops.inc({ reason: 'outbox_full' }, p.msgs.length);
      return sendApiError(p.res, p.failed.code, p.failed.message, p.failed.code === 'UNAVAILABLE' ? RETRY : {});
    }
    answer(p);
  }

  function answer(p: Pending): void {
    const items = p.msgs.map((m, i) => ({ seq: p.seqs[i]!, topic: m.topic, id: m.id ?? null }));
    if (p.batch) return sendJson(p.res, 201, { messages: items });
    const one = items[0]!;
    const location = `${MESSAGES_PATH}?topic=${encodeURIComponent(one.topic)}&since=${one.seq - 1}&limit=1`;
    sendJson(p.res, 201, one, { Location: location });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): Promise<void> {
    const { principal } = ctx;
    if (!isJsonContentType(req.headers['content-type'])) {
      return sendApiError(
        res,
        'UNSUPPORTED_MEDIA_TYPE',
        'send the message as Content-Type: application/json',
        ctx.cors,
      );
    }
    const body = await readBody(req, env.maxPayloadBytes);
    if (!body.ok) {
      if (body.reason === 'aborted') return;
      // The rest of the body is not read: the connection closes after the answer.
      res.setHeader('Connection', 'close');
      return sendApiError(res, 'TOO_LARGE', `the body is larger than ${env.maxPayloadBytes} bytes`, ctx.cors);
    }
    const key = req.headers['idempotency-key'];
    let posted;
    try {
      posted = decodePostBody(
        body.body.toString('utf8'),
        MAX_BATCH_MESSAGES,
        typeof key === 'string' ? key : undefined,
      );
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      metrics.framesInvalid.inc({ path: MESSAGES_PATH, code: err.code });
      return sendApiError(res, err.code, err.message, ctx.cors);
    }
    const { messages } = posted;
    received.n += messages.length;
    for (const m of messages) {
      if (!canPublish(principal, m.topic)) {
        metrics.drops.inc({ reason: 'forbidden' }, messages.length);
        return sendApiError(res, 'FORBIDDEN', `user ${principal.name} may not publish to ${m.topic}`, ctx.cors);
      }
    }
    if (!env.accepting()) {
      metrics.drops.inc({ reason: 'shutting_down' }, messages.length);
      return sendApiError(res, 'UNAVAILABLE', 'the server is shutting down; retry', { ...RETRY, ...ctx.cors });
    }
    const bucket = bucketOf(principal.name);
    if (messages.length > limits.publishBurst || !bucket.take(messages.length)) {
      metrics.drops.inc({ reason: 'rate_limited' }, messages.length);
      const wait = Math.max(1, Math.ceil(bucket.waitSeconds(Math.min(messages.length, limits.publishBurst))));
      return sendApiError(res, 'RATE_LIMITED', `over ${limits.publishRatePerSec} messages/s for this user; slow down`, {
        'Retry-After': String(wait),
        ...ctx.cors,
      });
    }
    if (env.outboxRoom() < messages.length) {
      metrics.drops.inc({ reason: 'outbox_full' }, messages.length);
      return sendApiError(res, 'UNAVAILABLE', 'the message queue cannot take messages now; retry', {
        ...RETRY,
        ...ctx.cors,
      });
    }
    for (const [k, v] of Object.entries(ctx.cors)) res.setHeader(k, v);
    const p: Pending = { res, msgs: messages, batch: posted.batch, seqs: [], left: messages.length, failed: undefined };
    const ts = turnDateNow();
    messages.forEach((m, i) => {
      const msg: AppendRequest = { topic: m.topic, data: m.data, ts };
      if (m.id !== undefined) msg.pid = `${principal.name}\u0000${m.id}`;
      const refused = env.offer(msg, done, { p, i });
      if (refused) done({ p, i }, refused, 0);
    });
  }

  return { path: MESSAGES_PATH, methods: ['POST'], handle };
}

const RETRY = Object.freeze({ 'Retry-After': '1' });
