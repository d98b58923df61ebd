/**
 * /popmsg with `wsq.link.v3`: a durable consumer with a credit window, plus range replays.
 *
 *   consume {name, window}  → consuming {name, next, first, last}, then msgs frames while
 *                             fewer than `window` messages are unacknowledged
 *   ack {seq}               → cursor := seq (durable), frees window
 *   replay {ref, …}         → replayed {ref, msgs, first, more, next}, one request at a time
 *   seek {ref, ts}          → sought {ref, seq}: the first retained seq with ts >= ts (the
 *                             journal's time index), in line with the replays
 *
 * Frames that cannot be served answer an error frame; the connection stays open.
 */
import {
  canSubscribe,
  encodeLink,
  ProtocolError,
  type ConnectionContext,
  type LinkFrame,
  type LinkRequest,
} from '@wsq/core';
import type { WebSocket } from 'ws';
import type { ConsumerSession } from '../consumers/hub.js';
import { encodeMsgsFromRecords, linkRefuser, onLinkRequest } from './link-frames.js';
import { consumerPumpReports, Pump, pumpSession } from './pump.js';
import { cursorAllowed, POP_PATH, resumePoint, type QueueContext } from './queue-context.js';
import { replayRange } from './replay.js';
import { Unacked } from '../consumers/unacked.js';

type ReplayFrame = Extract<LinkRequest, { op: 'replay' | 'seek' }>;

export function serveConsumerLink(ws: WebSocket, ctx: ConnectionContext, q: QueueContext): void {
  const { config, journal, cursors, hub, metrics } = q;
  const log = ctx.log;
  let session: (ConsumerSession & { pump: Pump; unacked: Unacked; acked: number }) | undefined;
  const replays: ReplayFrame[] = [];
  let replaying = false;

  const refuse = linkRefuser(ws, POP_PATH, log, metrics, 'consumer');

  onLinkRequest(ws, refuse, (req) => {
    switch (req.op) {
      case 'consume':
        return consume(req.name, req.window);
      case 'ack':
        return ack(req.seq);
      case 'replay':
      case 'seek':
        return queueReplay(req);
      case 'append':
        return refuse(new ProtocolError('BAD_FRAME', `append belongs on /pushmsg`), req.ref);
      default: {
        const never: never = req;
        return never;
      }
    }
  });

  ws.on('close', () => {
    if (!session) return;
    session.pump.stop();
    hub.detach(session);
  });

  function consume(name: string, requested: number): void {
    if (session) return refuse(new ProtocolError('BAD_FRAME', `this connection already consumes as ${session.name}`));
    if (!canSubscribe(ctx.principal, '>'))
      return refuse(new ProtocolError('FORBIDDEN', 'consuming the queue needs subscribe permission on >'));
    if (!cursorAllowed(q, name))
      return refuse(new ProtocolError('LIMIT_EXCEEDED', `at most ${config.maxConsumers} durable consumers`));
    const window = Math.min(requested, config.maxConsumerWindowMessages);
    const { acked, next } = resumePoint(q, name, log);
    const unacked = new Unacked();
    const pump = new Pump({
      journal,
      ws,
      from: next,
      batchMessages: config.consumerBatchMessages,
      batchBytes: config.consumerBatchBytes,
      maxBufferedBytes: config.maxBufferedBytes,
      credit: () => window - unacked.count,
      send(msgs, written) {
        for (const m of msgs) unacked.push(m.seq);
        ws.send(encodeLink({ op: 'msgs', msgs }), written);
      },
      sendRecords(records, written) {
        for (let i = 0; i < records.count; i++) unacked.push(records.first + i);
        ws.send(encodeMsgsFromRecords(records), written);
      },
      ...consumerPumpReports(ws, name, metrics, log),
    });
    session = { ...pumpSession(ws, name, pump, metrics, log), pump, unacked, acked };
    ws.send(encodeLink({ op: 'consuming', name, next, first: journal.firstSeq, last: journal.lastSeq }));
    log.info({ consumer: name, next, window }, 'consumer attached');
    hub.attach(session);
    pump.wake();
  }

  function ack(seq: number): void {
    if (!session) return refuse(new ProtocolError('BAD_FRAME', 'ack before consume'));
    // A replaced connection may still deliver acks while closing: they must not move the
    // cursor back under the connection that took the name over.
    if (ws.readyState !== ws.OPEN) return;
    if (seq <= session.acked) return; // stale or repeated: cumulative acks make it harmless
    if (seq >= session.pump.next)
      return refuse(new ProtocolError('BAD_FRAME', `ack ${seq} is beyond the last message sent`));
    session.acked = seq;
    try {
      cursors.set(session.name, seq);
    } catch (err) {
      return refuse(err);
    }
    session.unacked.ackThrough(seq);
    session.pump.wake();
  }

  function queueReplay(req: ReplayFrame): void {
    // A seek answers a position only, no message: the connection's authentication is enough.
    const pattern = req.op === 'replay' ? (req.pattern ?? '>') : undefined;
    if (pattern !== undefined && !canSubscribe(ctx.principal, pattern))
      return refuse(new ProtocolError('FORBIDDEN', `no subscribe permission on ${pattern}`), req.ref);
    if (replays.length >= config.maxPendingReplays)
      return refuse(new ProtocolError('LIMIT_EXCEEDED', 'too many replay requests waiting'), req.ref);
    replays.push(req);
    if (!replaying) void runReplays();
  }

  async function runReplays(): Promise<void> {
    replaying = true;
    try {
      for (let req = replays.shift(); req && ws.readyState === ws.OPEN; req = replays.shift()) {
        try {
          if (req.op === 'seek') {
            await sendDrained(encodeLink({ op: 'sought', ref: req.ref, seq: await journal.seqAtTime(req.ts) }));
            continue;
          }
          const answer = await replayRange(journal, req, {
            scanMessages: config.replayScanLimit,
            batchBytes: config.replayBatchBytes,
            readBatchMessages: config.consumerBatchMessages,
          });
          // `next` extends the documented frame: where to continue when `more` and no message matched.
          const frame = {
            op: 'replayed' as const,
            ref: req.ref,
            msgs: answer.msgs,
            first: answer.first,
            more: answer.more,
            next: answer.next,
          };
          await sendDrained(encodeLink(frame));
        } catch (err) {
          refuse(err, req.ref);
        }
      }
    } finally {
      replaying = false;
    }
  }

  /** Sends; when the socket's unsent bytes are past the limit, waits until this frame is written. */
  function sendDrained(frame: LinkFrame): Promise<void> {
    return new Promise((resolve) => {
      ws.send(frame, () => resolve());
      if (ws.bufferedAmount < config.maxBufferedBytes) resolve();
    });
  }
}
