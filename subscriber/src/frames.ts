/**
 * What a subscriber connection may say. wsq.v1: `sub` / `unsub`, each answered with one
 * frame (`subscribed`, `unsubscribed` or `error`); the connection stays open. Legacy (ws-go):
 * `{"Topic":"news","Content":"sub"|"unsub"}`, never answered; anything else is ignored,
 * counted and logged.
 */
import {
  FRAME_ERRORS,
  ProtocolError,
  canSubscribe,
  decodeClientFrame,
  decodeLegacy,
  encodeError,
  encodeSubscribed,
  encodeUnsubscribed,
  isValidPattern,
  type FrameErrorCode,
} from '@wsq/core';
import type { Client, Subscription } from './client.js';
import { PENDING_FROM } from './router.js';
import { enqueueResume, type ResumeDeps } from './resume.js';

export const ENDPOINT = '/subscribe';

export interface FrameDeps extends ResumeDeps {
  maxSubscriptionsPerConnection: number;
}

type Refusal = { code: FrameErrorCode; message: string };

function refusal(code: FrameErrorCode, message: string = FRAME_ERRORS[code]): Refusal {
  return { code, message };
}

/** Adds a subscription (or resumes one with `since`); answers v1 clients itself when it succeeds. */
export function subscribe(
  deps: FrameDeps,
  client: Client,
  pattern: string,
  since: number | undefined,
  id: string | undefined,
): Refusal | undefined {
  if (!canSubscribe(client.principal, pattern)) return refusal('FORBIDDEN', `you may not subscribe to ${pattern}`);
  const max = deps.maxSubscriptionsPerConnection;
  const existing = client.subs.get(pattern);
  if (existing !== undefined && since !== undefined) {
    if (client.jobs.length >= max)
      return refusal('LIMIT_EXCEEDED', `at most ${max} resumes may wait on one connection`);
    enqueueResume(deps, client, { sub: existing, since, id });
    return undefined;
  }
  if (existing === undefined) {
    if (client.subs.size >= max) return refusal('LIMIT_EXCEEDED', `at most ${max} subscriptions per connection`);
    if (since !== undefined) {
      const sub: Subscription = { pattern, state: 'queued', from: since, liveAfter: 0 };
      client.subs.set(pattern, sub);
      enqueueResume(deps, client, { sub, since, id });
      return undefined;
    }
    const { router } = deps;
    const sub: Subscription = {
      pattern,
      state: 'live',
      from: router.lastDelivered > 0 ? router.lastDelivered : PENDING_FROM,
      liveAfter: 0,
    };
    client.subs.set(pattern, sub);
    router.addToIndex(client, sub);
    client.log.debug({ pattern }, 'subscribed');
  }
  if (client.mode === 'v1') {
    const seq = deps.router.position();
    client.send(encodeSubscribed(id === undefined ? { topic: pattern, seq } : { id, topic: pattern, seq }));
  }
  return undefined;
}

function unsubscribe(deps: FrameDeps, client: Client, pattern: string): void {
  const sub = client.subs.get(pattern);
  if (sub === undefined) return;
  client.subs.delete(pattern);
  deps.router.removeFromIndex(client, sub);
  sub.state = 'removed';
  for (let i = client.jobs.length - 1; i >= 0; i--) if (client.jobs[i]!.sub === sub) client.jobs.splice(i, 1);
}

function answerError(deps: FrameDeps, client: Client, r: Refusal, id: string | undefined): void {
  deps.metrics.base.framesInvalid.inc({ path: ENDPOINT, code: r.code });
  client.log.debug({ code: r.code }, 'frame refused');
  client.send(encodeError(r.code, r.message, id));
}

export function onV1Text(deps: FrameDeps, client: Client, text: string): void {
  let frame;
  try {
    frame = decodeClientFrame(text);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    answerError(deps, client, refusal(err.code, err.message), err.id);
    return;
  }
  switch (frame.op) {
    case 'sub': {
      const r = subscribe(deps, client, frame.topic, frame.since, frame.id);
      if (r) answerError(deps, client, r, frame.id);
      return;
    }
    case 'unsub': {
      unsubscribe(deps, client, frame.topic);
      const { id, topic } = frame;
      client.send(encodeUnsubscribed(id === undefined ? { topic } : { id, topic }));
      return;
    }
    case 'pub':
      answerError(deps, client, refusal('BAD_FRAME', 'publish on the publisher (/publish), not here'), frame.id);
      return;
    default: {
      const never: never = frame;
      return never;
    }
  }
}

/** Counted always; the first of each code per connection is logged at info, repeats at debug, so a flood cannot flood the log. */
function ignore(deps: FrameDeps, client: Client, code: FrameErrorCode, detail: string): void {
  deps.metrics.base.framesInvalid.inc({ path: ENDPOINT, code });
  const first = !client.ignoredCodes.has(code);
  client.ignoredCodes.add(code);
  client.log[first ? 'info' : 'debug']({ code, detail }, 'legacy frame ignored');
}

export function onLegacyText(deps: FrameDeps, client: Client, text: string): void {
  let msg;
  try {
    msg = decodeLegacy(text);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    ignore(deps, client, err.code, 'not a {"Topic","Content"} frame');
    return;
  }
  if (msg.content !== 'sub' && msg.content !== 'unsub') {
    ignore(deps, client, 'BAD_FRAME', 'Content must be "sub" or "unsub"');
    return;
  }
  if (!isValidPattern(msg.topic)) {
    ignore(deps, client, 'BAD_TOPIC', 'invalid topic');
    return;
  }
  if (msg.content === 'unsub') {
    unsubscribe(deps, client, msg.topic);
    return;
  }
  const r = subscribe(deps, client, msg.topic, undefined, undefined);
  if (r) ignore(deps, client, r.code, r.message);
}

export function onBinary(deps: FrameDeps, client: Client): void {
  if (client.mode === 'legacy') ignore(deps, client, 'BAD_FRAME', 'binary frame');
  else answerError(deps, client, refusal('BAD_FRAME', 'frames are JSON text, not binary'), undefined);
}
