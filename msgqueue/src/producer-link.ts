/**
 * /pushmsg with `wsq.link.v1`: `append {ref, msgs}` → `appended {ref, seqs}` once journaled.
 *
 * Backpressure: at most maxInflightAppends append frames per connection wait for the journal.
 * At the limit the connection is paused (its socket is not read, so TCP pushes back on the
 * producer) and resumed as appends complete; frames already read from the socket when it
 * paused are still served, so the limit can be passed by one socket read. Pausing never
 * lasts longer than a journal write, far below the ping interval.
 */
import { canPublish, encodeLink, ProtocolError, type ConnectionContext, type LinkAppendItem } from '@wsq/core';
import type { WebSocket } from 'ws';
import { linkRefuser, onLinkRequest } from './link-frames.js';
import { PUSH_PATH, type QueueContext } from './queue-context.js';

export function serveProducerLink(ws: WebSocket, ctx: ConnectionContext, q: QueueContext): void {
  const { appender, metrics, config } = q;
  const log = ctx.log;
  let inflight = 0;

  const refuse = linkRefuser(ws, PUSH_PATH, log, metrics, 'producer');

  onLinkRequest(ws, refuse, (req) => {
    switch (req.op) {
      case 'append':
        return append(req.ref, req.msgs);
      case 'consume':
      case 'ack':
        return refuse(new ProtocolError('BAD_FRAME', `${req.op} belongs on /popmsg`));
      case 'replay':
        return refuse(new ProtocolError('BAD_FRAME', 'replay belongs on /popmsg'), req.ref);
      default: {
        const never: never = req;
        return never;
      }
    }
  });

  function append(ref: number, msgs: LinkAppendItem[]): void {
    const denied = msgs.find((m) => !canPublish(ctx.principal, m.topic));
    if (denied) return refuse(new ProtocolError('FORBIDDEN', `no publish permission on ${denied.topic}`), ref);
    inflight++;
    if (inflight >= config.maxInflightAppends && !ws.isPaused) ws.pause();
    appender
      .append(msgs)
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
