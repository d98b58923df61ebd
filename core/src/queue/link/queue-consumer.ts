/**
 * The default QueueConsumer: a durable cursor on the msgqueue's /popmsg over wsq.link.v3.
 *
 * The queue sends at most `window` unacknowledged messages (credit); `ack(seq)` is
 * cumulative and coalesced to one frame per event-loop turn. After a reconnect the queue
 * resumes from the durable (acknowledged) cursor, so messages handed over but not yet
 * acknowledged come again: they are dropped here, never given to the caller twice.
 *
 * Legacy link (a ws-go msgqueue): every text frame is one message; its seq is a counter local
 * to this consumer, `ts` is the arrival time, `ack` does nothing and `replay` finds nothing.
 */
import { ProtocolError } from '../../protocol/errors.js';
import { contentToData, decodeLegacy } from '../../protocol/legacy.js';
import { createLinkClient, readLinkReply, type LinkClientOptions } from './link-client.js';
import { encodeLink, type LinkFrame, type LinkMessage } from '../../protocol/link.js';
import type { QueueConsumer, QueueMessage, ReplayResult } from '../queue.js';

export interface QueueConsumerOptions extends LinkClientOptions {
  /** Durable consumer name: the queue keeps this cursor across reconnects and restarts. */
  name: string;
  /** Max unacknowledged messages the queue may send (default 4096). */
  window: number;
  /**
   * How long an acknowledgement may wait to be joined by the next ones (default 5 ms), unless
   * a quarter of the window is waiting: one ack frame per event-loop turn cost each side a
   * TLS write and a read per turn at low rates. The queue's cursor lags by at most this much.
   */
  ackDelayMs?: number;
}

export const CONSUMER_DEFAULTS = { window: 4096, ackDelayMs: 5 } as const;
/** Replays waiting for their answer; more are refused with LIMIT_EXCEEDED. */
export const MAX_PENDING_REPLAYS = 64;

interface PendingReplay {
  from: number;
  resolve(r: ReplayResult): void;
  reject(err: ProtocolError): void;
}

interface PendingSeek {
  resolve(seq: number): void;
  reject(err: ProtocolError): void;
}

export function createQueueConsumer(opts: QueueConsumerOptions): QueueConsumer {
  const log = opts.log.child({ component: 'queue-consumer', link: 'popmsg', consumer: opts.name });
  let onMessages: ((batch: QueueMessage[]) => void) | undefined;
  let lastSeq = 0;
  /** The highest seq handed to onMessages: anything at or below it is a re-delivery. */
  let delivered = 0;
  /**
   * The highest seq the caller acknowledged, the highest the queue has been told, and the
   * highest the queue sent on this socket: an ack never runs ahead of what this socket carried.
   */
  let ackWanted = 0;
  let ackSent = 0;
  let received = 0;
  let ackScheduled: NodeJS.Immediate | undefined;
  let ackTimer: NodeJS.Timeout | undefined;
  const ackDelayMs = opts.ackDelayMs ?? CONSUMER_DEFAULTS.ackDelayMs;
  /** Acks held back for at most ackDelayMs, unless this many messages wait for one. */
  const ackSoonAfter = Math.max(1, Math.floor(opts.window / 4));
  const replays = new Map<number, PendingReplay>();
  /** Seeks waiting for their answer; they share refs (and the pending bound) with replays. */
  const seeks = new Map<number, PendingSeek>();
  let nextRef = 1;
  let ignoredLegacy = 0;

  const link = createLinkClient(opts, '/popmsg', {
    onOpen(legacy) {
      if (legacy) link.markUp();
      else link.send(encodeLink({ op: 'consume', name: opts.name, window: opts.window }));
    },
    onFrame(frame) {
      if (!link.legacy) onLinkFrame(frame);
      else if (typeof frame === 'string') onLegacyText(frame);
      else ignoreLegacy('binary legacy frame from the msgqueue ignored');
    },
    onDown(detail) {
      const err = new ProtocolError('UNAVAILABLE', `msgqueue link down: ${detail}`);
      rejectPending(err);
    },
  });

  function rejectPending(err: ProtocolError): void {
    for (const r of replays.values()) r.reject(err);
    replays.clear();
    for (const s of seeks.values()) s.reject(err);
    seeks.clear();
  }

  function hand(batch: QueueMessage[]): void {
    try {
      onMessages?.(batch);
    } catch (err) {
      log.error({ err }, 'onMessages threw; the batch counts as handed over');
    }
  }

  function onLinkFrame(frame: LinkFrame): void {
    const reply = readLinkReply(link, frame);
    if (!reply) return;
    switch (reply.op) {
      case 'consuming':
        lastSeq = reply.last;
        // The queue resumes after its durable cursor; acks the caller made while the link was
        // down (or that were lost with it) go out as the re-delivered messages come by.
        ackSent = received = Math.max(0, reply.next - 1);
        link.markUp();
        return;
      case 'msgs': {
        const fresh: QueueMessage[] = reply.msgs.filter((m: LinkMessage) => m.seq > delivered);
        const last = reply.msgs[reply.msgs.length - 1];
        if (last !== undefined) {
          if (last.seq > lastSeq) lastSeq = last.seq;
          if (last.seq > received) received = last.seq;
          if (ackWanted > ackSent) scheduleAck();
        }
        if (fresh.length === 0) return;
        delivered = fresh[fresh.length - 1]!.seq;
        hand(fresh);
        return;
      }
      case 'replayed': {
        const r = replays.get(reply.ref);
        if (!r) return;
        replays.delete(reply.ref);
        r.resolve({ messages: reply.msgs, firstSeq: reply.first, more: reply.more, next: reply.next });
        return;
      }
      case 'sought': {
        const s = seeks.get(reply.ref);
        if (!s) return;
        seeks.delete(reply.ref);
        s.resolve(reply.seq);
        return;
      }
      case 'error': {
        const r = reply.ref === undefined ? undefined : (replays.get(reply.ref) ?? seeks.get(reply.ref));
        if (r) {
          replays.delete(reply.ref!);
          seeks.delete(reply.ref!);
          r.reject(new ProtocolError(reply.code, reply.message));
          return;
        }
        // Not about a replay: the consume or an ack was refused, so the cursor is in doubt.
        link.drop(`msgqueue answered ${reply.code}`);
        return;
      }
      case 'appended':
        link.drop('unexpected appended frame on the consumer link');
        return;
      default: {
        const never: never = reply;
        return never;
      }
    }
  }

  function onLegacyText(text: string): void {
    let m;
    try {
      m = decodeLegacy(text);
    } catch {
      return ignoreLegacy('invalid legacy frame from the msgqueue ignored');
    }
    lastSeq++;
    delivered = lastSeq;
    hand([{ seq: lastSeq, topic: m.topic, data: contentToData(m.content), ts: Date.now() }]);
  }

  function ignoreLegacy(why: string): void {
    ignoredLegacy++;
    log.warn({ ignored: ignoredLegacy }, why);
  }

  function scheduleAck(): void {
    if (ackWanted - ackSent >= ackSoonAfter || ackDelayMs === 0) {
      ackScheduled ??= setImmediate(flushAck);
    } else if (ackTimer === undefined) {
      ackTimer = setTimeout(flushAck, ackDelayMs);
      ackTimer.unref();
    }
  }

  function flushAck(): void {
    if (ackScheduled) clearImmediate(ackScheduled);
    if (ackTimer) clearTimeout(ackTimer);
    ackScheduled = undefined;
    ackTimer = undefined;
    const seq = Math.min(ackWanted, received);
    if (link.state !== 'up' || link.legacy || seq <= ackSent) return;
    if (link.send(encodeLink({ op: 'ack', seq }))) ackSent = seq;
  }

  return {
    get state() {
      return link.state;
    },
    get lastSeq() {
      return lastSeq;
    },
    start(cb) {
      if (onMessages) throw new Error('queue consumer already started');
      onMessages = cb;
      link.start();
    },
    ack(seq) {
      if (seq <= ackWanted) return;
      ackWanted = seq;
      scheduleAck();
    },
    replay(from, to, pattern, limit) {
      if (link.state !== 'up') return Promise.reject(new ProtocolError('UNAVAILABLE', 'the msgqueue link is down'));
      if (link.legacy) return Promise.resolve({ messages: [], firstSeq: lastSeq + 1, more: false, next: to + 1 });
      if (replays.size + seeks.size >= MAX_PENDING_REPLAYS) {
        return Promise.reject(new ProtocolError('LIMIT_EXCEEDED', 'too many replays in flight'));
      }
      const ref = nextRef++;
      return new Promise<ReplayResult>((resolve, reject) => {
        replays.set(ref, { from, resolve, reject });
        const frame = encodeLink(
          pattern === undefined
            ? { op: 'replay', ref, from, to, limit }
            : { op: 'replay', ref, from, to, pattern, limit },
        );
        if (!link.send(frame)) {
          replays.delete(ref);
          reject(new ProtocolError('UNAVAILABLE', 'the msgqueue link is down'));
        }
      });
    },
    seqAtTime(ms) {
      if (link.state !== 'up') return Promise.reject(new ProtocolError('UNAVAILABLE', 'the msgqueue link is down'));
      // A ws-go msgqueue keeps no times: nothing retained to seek in.
      if (link.legacy) return Promise.resolve(lastSeq + 1);
      if (replays.size + seeks.size >= MAX_PENDING_REPLAYS) {
        return Promise.reject(new ProtocolError('LIMIT_EXCEEDED', 'too many replays in flight'));
      }
      const ref = nextRef++;
      const ts = Math.max(0, Math.ceil(ms));
      return new Promise<number>((resolve, reject) => {
        seeks.set(ref, { resolve, reject });
        if (!link.send(encodeLink({ op: 'seek', ref, ts }))) {
          seeks.delete(ref);
          reject(new ProtocolError('UNAVAILABLE', 'the msgqueue link is down'));
        }
      });
    },
    async close() {
      flushAck(); // the final acknowledgement leaves before the close frame
      rejectPending(new ProtocolError('UNAVAILABLE', 'the queue consumer is closed'));
      await link.close();
    },
  };
}
