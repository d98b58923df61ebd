/**
 * One publishing socket. wsq.v1 clients get an `ack` per message that carried an `id` and one
 * `error` frame per refused frame; legacy (ws-go) clients get nothing back, so their refused
 * frames are ignored, counted and logged. The socket only ever carries our small replies, so
 * a peer that stops reading them is closed with 1013 once they pile up.
 */
import {
  CLOSE,
  ProtocolError,
  V1_PROTOCOL,
  canPublish,
  decodeClientFrame,
  decodeLegacyToData,
  encodeAck,
  encodeError,
  turnDateNow,
  isValidTopic,
  type AppendDone,
  type AppendRequest,
  type ClientFrame,
  type ConnectionContext,
  type FrameErrorCode,
  type PubFrame,
} from '@wsq/core';
import { WebSocket, type RawData } from 'ws';
import type { PublisherMetrics, PublishProtocol } from './metrics.js';
import type { Backpressure } from './backpressure.js';
import { createTokenBucket } from './rate-limit.js';
import { Replies } from './replies.js';

export const PUBLISH_PATH = '/publish';

/** How long a socket closed for being slow may take to finish the close handshake. */
export const CLOSE_GRACE_MS = 2000;

export interface PublishEnv {
  /**
   * Hands a message to the queue: `done(ctx, err, seq)` runs once the queue journaled (or
   * refused) it; a refusal known at once (outbox full, not linked) is returned instead and
   * `done` never runs. No Promise or closure per message: this is the publish hot path.
   */
  offer<C>(msg: AppendRequest, done: AppendDone<C>, ctx: C): ProtocolError | undefined;
  /** False once shutdown began: new messages are refused with UNAVAILABLE. */
  accepting(): boolean;
  metrics: PublisherMetrics;
  limits: { maxBufferedBytes: number; publishRatePerSec: number; publishBurst: number; closeGraceMs?: number };
  /** Pauses a socket that publishes while the outbox is above high water (backpressure.ts). */
  backpressure?: Pick<Backpressure, 'published' | 'forget'>;
}

/** Refusals that drop a well-formed message (counted as drops); the rest are invalid frames. */
type DropReason = 'rate_limited' | 'outbox_full' | 'shutting_down';

/** Invalid frames that carried a well-formed message: counted as dropped messages as well. */
const DROPPED_AS: Partial<Record<FrameErrorCode, 'forbidden' | 'too_large'>> = {
  FORBIDDEN: 'forbidden',
  TOO_LARGE: 'too_large',
};

/** The error code a v1 client gets for each drop reason. */
const DROP_CODE: Record<DropReason, FrameErrorCode> = {
  rate_limited: 'RATE_LIMITED',
  outbox_full: 'UNAVAILABLE',
  shutting_down: 'UNAVAILABLE',
};

/** Shared: a rejection that is not a ProtocolError maps to this without a new stack. */
const INTERNAL_ERROR = new ProtocolError('INTERNAL', 'unexpected server error');

function asProtocolError(err: unknown): ProtocolError {
  return err instanceof ProtocolError ? err : INTERNAL_ERROR;
}

export function handlePublishConnection(ws: WebSocket, ctx: ConnectionContext, env: PublishEnv): void {
  const { metrics, limits } = env;
  const { principal, log } = ctx;
  const protocol: PublishProtocol = ctx.protocol === V1_PROTOCOL ? 'v1' : 'legacy';
  const bucket = createTokenBucket(limits.publishRatePerSec, limits.publishBurst);
  const droppedOnce = new Set<string>();
  const rateLimitedMessage = `over ${limits.publishRatePerSec} messages/s; slow down`;
  const received = metrics.received(protocol);
  /**
   * The last topic this connection was allowed to publish to (most publishers repeat topics);
   * undefined until one is, so that no frame skips the topic check by matching a placeholder.
   */
  let allowedTopic: string | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  /** Acks and error frames, written once per tick; undefined: each goes through ws.send. */
  const replies = Replies.of(ws);

  ws.on('message', (data: RawData, isBinary: boolean) => {
    received.n++;
    if (protocol === 'v1') onV1(data, isBinary);
    else onLegacy(data, isBinary);
  });
  ws.on('close', () => {
    clearTimeout(killTimer);
    env.backpressure?.forget(ws);
  });

  function onV1(data: RawData, isBinary: boolean): void {
    if (isBinary) return refuse('BAD_FRAME', 'binary frames are not wsq.v1 frames; send JSON text');
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(String(data));
    } catch (err) {
      const e = asProtocolError(err);
      return refuse(e.code, e.message, e.id);
    }
    switch (frame.op) {
      case 'pub':
        return publishV1(frame);
      case 'sub':
      case 'unsub':
        return refuse('BAD_FRAME', `${frame.op} is not served here: use the subscriber`, frame.id);
      default: {
        const unknown: never = frame;
        return refuse('BAD_FRAME', `unhandled op ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Is `topic` (already valid) one this user may publish to? Remembers the last yes. */
  function mayPublish(topic: string): boolean {
    if (topic === allowedTopic) return true;
    if (!canPublish(principal, topic)) return false;
    allowedTopic = topic;
    return true;
  }

  function publishV1(frame: PubFrame): void {
    const { id, topic } = frame;
    if (!mayPublish(topic)) {
      return refuse('FORBIDDEN', `user ${principal.name} may not publish to ${topic}`, id);
    }
    const dropped = admit();
    if (dropped) return refuse(DROP_CODE[dropped], dropMessage(dropped), id, dropped);
    const msg: AppendRequest = { topic, data: frame.data, ts: turnDateNow() };
    if (id !== undefined) msg.pid = `${principal.name}\u0000${id}`;
    const refused = env.offer(msg, v1Done, id);
    if (refused) return v1Done(id, refused, 0);
    env.backpressure?.published(ws);
  }

  /** How a v1 message ended: an ack when it carried an id, an error frame when refused. */
  function v1Done(id: string | undefined, err: ProtocolError | undefined, seq: number): void {
    if (err === undefined) {
      if (id !== undefined) send(encodeAck(id, seq));
      return;
    }
    const e = asProtocolError(err);
    if (e.code === 'INTERNAL') log.error({ err }, 'append failed');
    refuse(e.code, e.message, id, e.code === 'UNAVAILABLE' ? 'outbox_full' : undefined);
  }

  function onLegacy(data: RawData, isBinary: boolean): void {
    if (isBinary) return ignore('BAD_FRAME', 'binary frame');
    let topic: string;
    let payload: string;
    try {
      ({ topic, data: payload } = decodeLegacyToData(String(data)));
    } catch (err) {
      return ignore(asProtocolError(err).code, 'not a {"Topic","Content"} frame');
    }
    if (topic !== allowedTopic) {
      if (!isValidTopic(topic)) return ignore('BAD_TOPIC', 'invalid topic');
      if (!mayPublish(topic)) return ignore('FORBIDDEN', `may not publish to ${topic}`);
    }
    const dropped = admit();
    if (dropped) return drop(dropped);
    const refused = env.offer({ topic, data: payload, ts: turnDateNow() }, legacyDone, undefined);
    if (refused) return legacyDone(undefined, refused);
    env.backpressure?.published(ws);
  }

  /** A legacy client hears nothing back: a refusal is only counted (and logged once). */
  function legacyDone(_ctx: undefined, err: ProtocolError | undefined): void {
    if (err === undefined) return;
    const e = asProtocolError(err);
    if (e.code === 'INTERNAL') log.error({ err }, 'append failed');
    if (e.code === 'UNAVAILABLE') drop('outbox_full');
    else ignore(e.code, e.message);
  }

  /** Whether a well-formed, permitted message may go to the queue now; else why not. */
  function admit(): DropReason | undefined {
    if (!env.accepting()) return 'shutting_down';
    if (!bucket.take()) return 'rate_limited';
    return undefined;
  }

  function dropMessage(reason: DropReason): string {
    switch (reason) {
      case 'rate_limited':
        return rateLimitedMessage;
      case 'outbox_full':
        return 'the message queue cannot take messages now; retry later';
      case 'shutting_down':
        return 'the server is shutting down; retry on another connection';
    }
  }

  /**
   * v1: one error frame per refused frame; counted as a drop or an invalid frame. Takes the
   * code and message, not a ProtocolError: refusals come per message under load, and an
   * Error per refusal (with its stack) was the publisher's top function when it dropped.
   */
  function refuse(code: FrameErrorCode, message: string, id?: string, reason?: DropReason): void {
    if (reason) drop(reason);
    else countInvalid(code, message);
    send(encodeError(code, message, id));
  }

  /** legacy: a ws-go client would not understand an error frame, so the frame is only counted. */
  function ignore(code: FrameErrorCode, why: string): void {
    countInvalid(code, why);
  }

  function countInvalid(code: FrameErrorCode, why: string): void {
    metrics.framesInvalid.inc({ path: PUBLISH_PATH, code });
    log.debug({ code, protocol, why }, 'frame refused');
    const dropped = DROPPED_AS[code];
    if (dropped) drop(dropped);
  }

  /** The first drop of each kind per connection is logged at info; repeats at debug, so a flood cannot flood the log. */
  function drop(reason: DropReason | 'forbidden' | 'too_large'): void {
    metrics.drops.inc({ reason });
    const first = !droppedOnce.has(reason);
    droppedOnce.add(reason);
    log[first ? 'info' : 'debug']({ reason, protocol, user: principal.name }, 'message dropped');
  }

  function send(text: string): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (replies) replies.add(text);
    else ws.send(text);
    if (ws.bufferedAmount + (replies?.pendingBytes ?? 0) > limits.maxBufferedBytes) closeSlow();
  }

  function closeSlow(): void {
    metrics.closes.inc({ reason: 'slow_consumer' });
    log.info({ bufferedBytes: ws.bufferedAmount, limit: limits.maxBufferedBytes }, 'closing slow client (1013)');
    ws.close(CLOSE.TRY_AGAIN, 'slow consumer');
    // A peer that does not read its replies will not read our close frame either.
    killTimer = setTimeout(() => ws.terminate(), limits.closeGraceMs ?? CLOSE_GRACE_MS);
    killTimer.unref();
  }
}
