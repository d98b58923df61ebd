/**
 * ws-go's queue link, for peers that negotiate no subprotocol (a ws-go publisher or
 * subscriber talking to this msgqueue). One `{"Topic","Content"}` text frame per message,
 * no acks, no seqs, no error frames.
 *
 * - /pushmsg: each frame is appended (Content becomes a JSON string). Invalid frames are
 *   counted, logged and ignored. Same in-flight bound and pausing as the v1 producer link.
 * - /popmsg: a durable consumer named by `?name=` (default `legacy`), resuming after its
 *   cursor. Without acks the cursor moves once a frame has been written to the socket; the
 *   pump stops at maxBufferedBytes unsent bytes and resumes when they are written.
 */
import {
  canPublish,
  canSubscribe,
  CLOSE,
  contentToData,
  decodeLegacy,
  encodeLegacyData,
  isValidTopic,
  MAX_CONSUMER_NAME_LENGTH,
  type ConnectionContext,
  type FrameErrorCode,
} from '@wsq/core';
import type { WebSocket } from 'ws';
import { consumerPumpReports, Pump, pumpSession } from './pump.js';
import { cursorAllowed, POP_PATH, PUSH_PATH, resumePoint, type QueueContext } from './queue-context.js';

export const LEGACY_CONSUMER_NAME = 'legacy';

export function serveLegacyPush(ws: WebSocket, ctx: ConnectionContext, q: QueueContext): void {
  const { appender, metrics, config } = q;
  const log = ctx.log;
  let inflight = 0;
  let ignored = 0;

  function ignore(code: FrameErrorCode, topic?: string): void {
    metrics.framesInvalid.inc({ path: PUSH_PATH, code });
    metrics.drops.inc({ reason: 'legacy_invalid_frame' });
    // The first one per connection is worth a warning; a flood of them only at debug.
    log[ignored++ === 0 ? 'warn' : 'debug']({ code, topic, ignored }, 'legacy frame ignored');
  }

  ws.on('message', (data: Buffer) => {
    // The socket accepts link-sized frames; a legacy message is held to --max-payload-bytes.
    if (data.length > config.limits.maxPayloadBytes) return ignore('TOO_LARGE');
    let topic: string;
    let content: string;
    try {
      ({ topic, content } = decodeLegacy(data.toString()));
    } catch {
      return ignore('BAD_FRAME');
    }
    const claimed = topic; // (isValidTopic narrows `topic` to never when it fails)
    if (!isValidTopic(topic)) return ignore('BAD_TOPIC', claimed.slice(0, 300));
    if (!canPublish(ctx.principal, topic)) return ignore('FORBIDDEN', topic);
    inflight++;
    if (inflight >= config.maxInflightAppends && !ws.isPaused) ws.pause();
    appender
      .append([{ topic, data: contentToData(content), ts: Date.now() }])
      .catch((err: unknown) => {
        // No ack exists to tell the peer: the message is lost, so say so loudly.
        metrics.drops.inc({ reason: 'journal_error' });
        log.error({ err, topic }, 'legacy append failed; message dropped');
      })
      .finally(() => {
        inflight--;
        if (ws.isPaused && inflight < config.maxInflightAppends) ws.resume();
      });
  });
}

export function serveLegacyPop(ws: WebSocket, ctx: ConnectionContext, q: QueueContext): void {
  const { config, journal, cursors, hub, metrics } = q;
  const log = ctx.log;
  const name = new URL(ctx.req.url ?? '/', 'https://localhost').searchParams.get('name') ?? LEGACY_CONSUMER_NAME;
  if (name.length === 0 || name.length > MAX_CONSUMER_NAME_LENGTH) {
    metrics.closes.inc({ reason: 'bad_request' });
    ws.close(CLOSE.POLICY, `name must have 1-${MAX_CONSUMER_NAME_LENGTH} characters`);
    return;
  }
  if (!canSubscribe(ctx.principal, '>')) {
    metrics.closes.inc({ reason: 'forbidden' });
    ws.close(CLOSE.POLICY, 'consuming the queue needs subscribe permission on >');
    return;
  }
  if (!cursorAllowed(q, name)) {
    metrics.closes.inc({ reason: 'consumer_limit' });
    ws.close(CLOSE.POLICY, 'too many durable consumers');
    return;
  }
  const { next } = resumePoint(q, name, log);
  function advance(seq: number): void {
    // A connection that lost its name (replaced, closed, the consumer deleted) moves no cursor.
    if (!hub.holds(session)) return;
    try {
      cursors.set(name, seq);
    } catch (err) {
      // Only when the store is closing or full: the frames are redelivered on reconnect.
      log.warn({ err, consumer: name, seq }, 'legacy cursor not moved');
    }
  }
  const pump = new Pump({
    journal,
    ws,
    from: next,
    batchMessages: config.consumerBatchMessages,
    batchBytes: config.consumerBatchBytes,
    maxBufferedBytes: config.maxBufferedBytes,
    credit: () => Infinity,
    send(msgs, written) {
      const last = msgs[msgs.length - 1].seq;
      msgs.forEach((m, i) => {
        const frame = encodeLegacyData(m.topic, m.data);
        if (i < msgs.length - 1) ws.send(frame);
        else
          ws.send(frame, (err) => {
            if (!err) advance(last);
            written(err);
          });
      });
    },
    ...consumerPumpReports(ws, name, metrics, log),
  });
  const session = pumpSession(ws, name, pump, metrics, log);
  ws.on('message', () => {
    metrics.framesInvalid.inc({ path: POP_PATH, code: 'BAD_FRAME' });
    log.debug('frame from a legacy consumer ignored');
  });
  ws.on('close', () => {
    pump.stop();
    hub.detach(session);
  });
  log.info({ consumer: name, next }, 'legacy consumer attached');
  hub.attach(session);
  pump.wake();
}
