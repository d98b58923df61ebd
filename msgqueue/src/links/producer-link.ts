/**
 * /pushmsg with `wsq.link.v3`: `append {ref, msgs}` → `appended {ref, seqs}` once journaled.
 *
 * Backpressure: at most maxInflightAppends append frames per connection wait for the journal.
 * At the limit the connection is paused (its socket is not read, so TCP pushes back on the
 * producer) and resumed as appends complete; frames already read from the socket when it
 * paused are still served, so the limit can be passed by one socket read. Pausing never
 * lasts longer than a journal write, far below the ping interval.
 */
import {
  canPublish,
  encodeLink,
  ProtocolError,
  type ConnectionContext,
  type LinkAppendItem,
  type Principal,
} from '@wsq/core';
import type { WebSocket } from 'ws';
import { linkRefuser, onLinkRequest } from './link-frames.js';
import { PUSH_PATH, type QueueContext } from './queue-context.js';

export function serveProducerLink(ws: WebSocket, ctx: ConnectionContext, q: QueueContext): void {
  const { appender, metrics, config } = q;
  const log = ctx.log;
  let inflight = 0;

  const refuse = linkRefuser(ws, PUSH_PATH, log, metrics, 'producer');
  const mayPublish = publishChecker(ctx.principal);

  onLinkRequest(ws, refuse, (req) => {
    switch (req.op) {
      case 'append':
        return append(req.ref, req.msgs, req.producer);
      case 'consume':
      case 'ack':
        return refuse(new ProtocolError('BAD_FRAME', `${req.op} belongs on /popmsg`));
      case 'replay':
      case 'seek':
        return refuse(new ProtocolError('BAD_FRAME', `${req.op} belongs on /popmsg`), req.ref);
      default: {
        const never: never = req;
        return never;
      }
    }
  });

  function append(ref: number, msgs: LinkAppendItem[], producer: string | undefined): void {
    const denied = firstDenied(msgs, mayPublish);
    if (denied) return refuse(new ProtocolError('FORBIDDEN', `no publish permission on ${denied.topic}`), ref);
    inflight++;
    if (inflight >= config.maxInflightAppends && !ws.isPaused) ws.pause();
    appender
      .append(msgs, producer)
      .then(
        (seqs) => ws.send(encodeLink({ op: 'appended', ref, seqs })),
        (err: unknown) => refuse(err, ref),
      )
      .finally(() => {
        inflight--;
        if (ws.isPaused && inflight < config.maxInflightAppends) ws.resume();
      });
  }
}

/** Topics whose publish permission one link remembers; past it the memo starts over. */
export const PUBLISH_MEMO_TOPICS = 1024;

/**
 * canPublish for one link's principal (fixed for the connection), memoised per topic: a link
 * carries every message of its publisher, mostly on a few topics, and matching each one
 * against every pattern of the principal is per-message work otherwise.
 */
export function publishChecker(principal: Principal): (topic: string) => boolean {
  const memo = new Map<string, boolean>();
  return (topic) => {
    let allowed = memo.get(topic);
    if (allowed === undefined) {
      allowed = canPublish(principal, topic);
      if (memo.size >= PUBLISH_MEMO_TOPICS) memo.clear();
      memo.set(topic, allowed);
    }
    return allowed;
  };
}

/** The first item the link may not publish; a run of one topic is checked once. */
function firstDenied(
  msgs: readonly LinkAppendItem[],
  mayPublish: (topic: string) => boolean,
): LinkAppendItem | undefined {
  let checked: string | undefined;
  for (const m of msgs) {
    if (m.topic === checked) continue;
    if (!mayPublish(m.topic)) return m;
    checked = m.topic;
  }
  return undefined;
}
