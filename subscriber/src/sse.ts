/**
 * Server-Sent Events on `GET /v1/messages` with `Accept: text/event-stream`: the matching
 * history, then live messages, with no gap and no duplicate. A stream is a subscriber Client
 * like a WebSocket one, over an SseSocket: it subscribes through the same code as a v1 `sub`
 * with `since` (resume.ts pages the history and holds live messages meanwhile), gets live
 * messages from the Router, and falls under the same slow-client policy (past
 * --max-buffered-bytes unsent it is closed, counted as a slow_consumer close and drop).
 *
 * Events: each message is `id: <seq>` and `data: {"seq","topic","data","ts"}` (so an
 * EventSource resumes with Last-Event-ID); `event: subscribed` tells where live delivery
 * starts and whether the history was complete (`recovered`); `event: wsq-error` reports a
 * refusal, then the stream ends. A comment line (`: ping`) every --ping-interval-ms keeps
 * proxies from timing the stream out.
 */
import type { ServerResponse } from 'node:http';
import { MESSAGES_PATH, type ApiContext } from '@wsq/core';
import { Client, type ClientLimits, type ClientSocket } from './client.js';
import { subscribe, type FrameDeps } from './frames.js';

/** The `endpoint` label of event streams in the connection metrics. */
const OPEN = 1;
const CLOSED = 3;

/** The part of a WebSocket a Client uses, over an HTTP response that streams events. */
export class SseSocket implements ClientSocket {
  readyState = OPEN;

  constructor(private readonly res: ServerResponse) {}

  /** Bytes written and not yet taken by the kernel: the response's buffer and its socket's. */
  get bufferedAmount(): number {
    return this.res.writableLength + (this.res.socket?.writableLength ?? 0);
  }

  send(data: string | Buffer, a?: unknown, b?: unknown): void {
    const cb = (typeof a === 'function' ? a : b) as ((err?: Error) => void) | undefined;
    if (this.readyState !== OPEN) return cb?.(new Error('stream closed'));
    const event = toEvent(typeof data === 'string' ? data : data.toString('utf8'));
    this.res.write(event.text, cb === undefined ? undefined : () => cb());
    // A refusal (e.g. the history could not be read) ends the stream: EventSource reconnects
    // with Last-Event-ID after its retry delay.
    if (event.last) this.close();
  }

  /** A comment line: ignored by EventSource, it keeps the connection from looking idle. */
  ping(): void {
    if (this.readyState === OPEN) this.res.write(': ping\n\n');
  }

  close(): void {
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSED;
    this.res.end();
  }

  terminate(): void {
    this.readyState = CLOSED;
    this.res.destroy();
  }
}

/** The SSE event for one v1 server frame (msg, subscribed or error); `last` for an error, which ends the stream. */
export function toEvent(frame: string): { text: string; last: boolean } {
  const f = JSON.parse(frame) as Record<string, unknown>;
  switch (f.op) {
    case 'msg': {
      const data = JSON.stringify({ seq: f.seq, topic: f.topic, data: f.data, ts: f.ts });
      return { text: `id: ${String(f.seq)}\ndata: ${data}\n\n`, last: false };
    }
    case 'subscribed': {
      const data = JSON.stringify({ topic: f.topic, seq: f.seq, recovered: f.recovered ?? true });
      return { text: `event: subscribed\ndata: ${data}\n\n`, last: false };
    }
    default:
      return {
        text: `event: wsq-error\ndata: ${JSON.stringify({ code: f.code, message: f.message })}\n\n`,
        last: true,
      };
  }
}

export interface SseDeps {
  frames: FrameDeps;
  limits: ClientLimits;
  pingIntervalMs: number;
  /** Streams open at once, at most (more get 503). */
  maxStreams: number;
}

export interface SseStreams {
  /** Starts a stream of `pattern` after `since` (undefined: live only); the checks are done. */
  start(res: ServerResponse, ctx: ApiContext, pattern: string, since: number | undefined): void;
  readonly open: number;
  /** True when maxStreams are open: the next one is refused. */
  readonly full: boolean;
}

export function createSseStreams(deps: SseDeps): SseStreams {
  const { router, metrics } = deps.frames;
  let open = 0;
  return {
    get open() {
      return open;
    },
    get full() {
      return open >= deps.maxStreams;
    },
    start(res, ctx, pattern, since) {
      const socket = new SseSocket(res);
      const log = ctx.log.child({ sse: pattern });
      const client = new Client(socket, 'v1', ctx.principal, log, deps.limits, (c, reason, dropped) =>
        router.onKick(c, reason, dropped),
      );
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
        ...ctx.cors,
      });
      res.write(': wsq\n\n');
      open++;
      metrics.base.connectionsOpen.inc({ path: MESSAGES_PATH });
      metrics.base.connectionsTotal.inc({ path: MESSAGES_PATH });
      const heartbeat = setInterval(() => {
        if (socket.bufferedAmount > deps.limits.maxBufferedBytes) client.kick('slow_consumer', 0);
        else socket.ping();
      }, deps.pingIntervalMs);
      heartbeat.unref();
      res.once('close', () => {
        clearInterval(heartbeat);
        socket.readyState = CLOSED;
        router.detach(client);
        client.closed();
        open--;
        metrics.base.connectionsOpen.dec({ path: MESSAGES_PATH });
        log.debug('event stream closed');
      });
      router.attach(client);
      const refused = subscribe(deps.frames, client, pattern, since, undefined);
      if (refused) client.send(JSON.stringify({ op: 'error', code: refused.code, message: refused.message }));
      log.debug({ since, user: ctx.principal.name }, 'event stream open');
    },
  };
}
