/**
 * `GET /v1/messages?topic=PATTERN&since=SEQ&dateStart=ISO&dateEnd=ISO&limit=N[&count=1]`
 * (DESIGN section 7): retained messages matching the pattern in seq order, paged with `next`
 * (pass it back as `since`), or their count. Served from the queue through its replay; a date
 * range finds its first and last seq with the queue's seqAtTime (the journal's time index),
 * not by scanning. What retention has cut is not answered: `first` says where the retained
 * log starts. With `Accept: text/event-stream` the same URL streams (sse.ts).
 *
 * A message is in a date range when its ts (the publisher's accept time) is in
 * [dateStart, dateEnd) and its seq lies between seqAtTime(dateStart) and seqAtTime(dateEnd).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ParameterError,
  ProtocolError,
  canSubscribe,
  decodeHistoryQuery,
  MESSAGES_PATH,
  sendApiError,
  sendJson,
  type ApiContext,
  type ApiRoute,
  type HistoryQuery,
  type QueueConsumer,
  type QueueMessage,
} from '@wsq/core';
import type { Limiter } from './resume.js';
import type { SseStreams } from './sse.js';

/**
 * Replay requests one page may make (a sparse pattern may need several per page); a count
 * pages through its whole range.
 */
export const MAX_REPLAYS_PER_QUERY = 64;

export interface HistoryDeps {
  queue: QueueConsumer;
  limiter: Limiter;
  sse: SseStreams;
  /** Messages asked of the queue per replay request. */
  replayBatchMessages: number;
}

/** The seq range a query covers, and the ts filter. */
interface Range {
  from: number;
  to: number;
  minTs: number;
  maxTs: number;
}

export function httpHistoryRoute(deps: HistoryDeps): ApiRoute {
  const { queue } = deps;

  async function rangeOf(q: HistoryQuery): Promise<Range> {
    let from = q.since + 1;
    // Up to the queue's own head, not the live position this subscriber reached: a message a
    // client just got its 201 for is answered even before the consumer stream brought it here.
    let to = Number.MAX_SAFE_INTEGER;
    if (q.dateStart !== undefined) from = Math.max(from, await queue.seqAtTime(q.dateStart));
    if (q.dateEnd !== undefined) to = Math.min(to, (await queue.seqAtTime(q.dateEnd)) - 1);
    return { from, to, minTs: q.dateStart ?? -Infinity, maxTs: q.dateEnd ?? Infinity };
  }

  /**
   * Pages through the range: up to `limit` matching messages (Infinity: all, for a count),
   * calling `take` for each; `next` is the last seq looked at when the range is not done.
   */
  async function scan(
    q: HistoryQuery,
    r: Range,
    limit: number,
    take: (m: QueueMessage) => void,
  ): Promise<{ first: number; next: number | null }> {
    let from = r.from;
    let first = 1;
    let taken = 0;
    // At least one request, even for an empty range: its answer says where the retained log starts.
    for (let calls = 0; ; calls++) {
      const capped = limit !== Infinity && calls >= MAX_REPLAYS_PER_QUERY;
      if (calls > 0 && (from > r.to || taken >= limit || capped)) {
        return { first, next: from > r.to ? null : from - 1 };
      }
      const ask = Math.max(1, Math.min(deps.replayBatchMessages, limit - taken));
      const page = await deps.limiter.run(() => queue.replay(from, r.to, q.pattern, ask));
      if (calls === 0) first = page.firstSeq;
      let next = page.more ? page.next : r.to + 1;
      for (const m of page.messages) {
        if (m.seq < from || m.seq > r.to) continue;
        if (taken >= limit) {
          next = m.seq;
          break;
        }
        if (m.ts >= r.minTs && m.ts < r.maxTs) {
          take(m);
          taken++;
        }
      }
      from = Math.max(next, from + 1);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): Promise<void> {
    let q: HistoryQuery;
    try {
      q = decodeHistoryQuery(ctx.url.searchParams);
    } catch (err) {
      if (!(err instanceof ParameterError)) throw err;
      return sendApiError(res, 'BAD_PARAMETER', `${err.param}: ${err.message}`, ctx.cors);
    }
    if (!canSubscribe(ctx.principal, q.pattern)) {
      return sendApiError(res, 'FORBIDDEN', `user ${ctx.principal.name} may not read ${q.pattern}`, ctx.cors);
    }
    const streaming = (req.headers.accept ?? '').includes('text/event-stream');
    if (queue.state !== 'up') {
      return sendApiError(res, 'UNAVAILABLE', 'the message queue is not linked; retry', {
        'Retry-After': '1',
        ...ctx.cors,
      });
    }
    try {
      if (streaming) return await stream(req, res, ctx, q);
      const r = await rangeOf(q);
      if (q.count) {
        let count = 0;
        const { first } = await scan(q, r, Infinity, () => count++);
        return sendJson(res, 200, { count, first }, ctx.cors);
      }
      const parts: string[] = [];
      const { first, next } = await scan(q, r, q.limit, (m) =>
        parts.push(`{"seq":${m.seq},"topic":${JSON.stringify(m.topic)},"data":${m.data},"ts":${m.ts}}`),
      );
      const body = `{"messages":[${parts.join(',')}],"next":${next === null ? 'null' : next},"first":${first}}`;
      res
        .writeHead(200, {
          'Content-Type': 'application/json',
          'Cache-Control': 'no-store',
          'Content-Length': String(Buffer.byteLength(body)),
          ...ctx.cors,
        })
        .end(body);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      const retry: Record<string, string> =
        err.code === 'UNAVAILABLE' || err.code === 'LIMIT_EXCEEDED' ? { 'Retry-After': '1' } : {};
      sendApiError(res, err.code, err.message, { ...retry, ...ctx.cors });
    }
  }

  async function stream(req: IncomingMessage, res: ServerResponse, ctx: ApiContext, q: HistoryQuery): Promise<void> {
    const p = ctx.url.searchParams;
    if (q.count) return sendApiError(res, 'BAD_PARAMETER', 'count: not with Accept: text/event-stream', ctx.cors);
    if (q.dateEnd !== undefined) {
      return sendApiError(
        res,
        'BAD_PARAMETER',
        'dateEnd: a stream has no end; not with Accept: text/event-stream',
        ctx.cors,
      );
    }
    let since: number | undefined = p.has('since') ? q.since : undefined;
    const lastId = req.headers['last-event-id'];
    if (typeof lastId === 'string' && lastId !== '') {
      if (!/^\d{1,16}$/.test(lastId) || !Number.isSafeInteger(Number(lastId))) {
        return sendApiError(res, 'BAD_PARAMETER', 'Last-Event-ID: must be a seq', ctx.cors);
      }
      since = Number(lastId);
    } else if (q.dateStart !== undefined) {
      since = Math.max(since ?? 0, (await queue.seqAtTime(q.dateStart)) - 1);
    }
    if (deps.sse.full) return sendApiError(res, 'OVERLOADED', 'too many event streams; retry', ctx.cors);
    deps.sse.start(res, ctx, q.pattern, since);
  }

  return { path: MESSAGES_PATH, methods: ['GET'], tickets: true, handle };
}
