/**
 * The JetStream QueueConsumer.
 *
 * Live: the subscriber's `--name` is a durable pull consumer of the stream (filter `wsq.>`,
 * AckPolicy.All, at most `window` unacknowledged, `--consumer-ttl-ms` as its
 * inactive_threshold). A new durable starts at the first retained message, as a new msgqueue
 * cursor does. Messages are handed over in seq order, in batches (those that arrive in one
 * event-loop turn); a redelivery of a seq already handed over is dropped; a seq gap (a
 * message lost on a dropped connection) is filled from the stream before the later message
 * goes out. `ack(seq)` is cumulative: the newest delivered message at or below it is acked,
 * coalesced to one ack per `ackDelayMs`.
 *
 * Replay and `seqAtTime` are one-shot reads of the stream (stream-reader.ts).
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import { ProtocolError } from '../../protocol/errors.js';
import type { Logger } from '../../observe/log.js';
import { createBackoff } from '../backoff.js';
import type { ConsumerHooks, LinkState, QueueConsumer, QueueMessage, ReplayResult } from '../queue.js';
import { MAX_PENDING_REPLAYS } from '../link/queue-consumer.js';
import type { Session } from './session.js';
import { ALL_SUBJECTS } from './subjects.js';
import { createStreamReader, toQueueMessage } from './stream-reader.js';

export interface JetStreamConsumerOptions extends ConsumerHooks {
  log: Logger;
  /** A durable unused this long is deleted by the server. */
  consumerTtlMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** How long an acknowledgement may wait to be joined by later ones (default 5 ms). */
  ackDelayMs?: number;
  /** Told the number of stream messages not yet delivered to the durable, as messages arrive. */
  onLag?(pending: number): void;
}

const NS_PER_MS = 1_000_000;
/** How long close() waits for the server to confirm the last ack (NATS up; else it is not sent). */
const FINAL_ACK_TIMEOUT_MS = 2000;

export interface JetStreamConsumer extends QueueConsumer {
  /** The seq of the first retained message stored at or after `ms`, or lastSeq + 1. */
  seqAtTime(ms: number): Promise<number>;
}

export function createJetStreamConsumer(session: Session, opts: JetStreamConsumerOptions): JetStreamConsumer {
  const log = opts.log.child({ component: 'queue-consumer', queue: 'jetstream', consumer: opts.name });
  const ackDelayMs = opts.ackDelayMs ?? 5;
  const backoff = createBackoff(opts.reconnectMinMs, opts.reconnectMaxMs);
  let onMessages: ((batch: QueueMessage[]) => void) | undefined;
  let closed = false;
  let consuming = false;
  let lastSeq = 0;
  /** The highest seq handed to onMessages. */
  let delivered = 0;
  let batch: QueueMessage[] = [];
  let handScheduled: NodeJS.Immediate | undefined;
  /** Delivered messages of the durable not yet acked, oldest first (seq, message). */
  let unacked: JsMsg[] = [];
  let ackWanted = 0;
  let ackTimer: NodeJS.Timeout | undefined;
  let iter: ConsumerMessages | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let replays = 0;
  /** Messages that came after a gap, waiting for it to be read from the stream. */
  const held: JsMsg[] = [];
  let filling = false;
  let reported: LinkState = 'connecting';
  /** The durable's pending count on the newest message; told to onLag once per handed batch. */
  let lag = -1;

  function effectiveState(): LinkState {
    if (closed) return 'closed';
    if (session.state !== 'up') return session.state;
    return consuming ? 'up' : 'connecting';
  }
  function report(detail?: string): void {
    const s = effectiveState();
    if (s === reported) return;
    reported = s;
    opts.onState?.(s, detail);
  }
  const unwatch = session.watch((_state, detail) => {
    report(detail);
    wake?.();
  });

  function durableConfig(): Partial<ConsumerConfig> {
    return {
      durable_name: opts.name,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.All,
      filter_subject: ALL_SUBJECTS,
      max_ack_pending: opts.window,
      inactive_threshold: opts.consumerTtlMs * NS_PER_MS,
    };
  }

  /** Finds the durable (bringing its window and TTL up to date) or creates it. */
  async function ensureDurable(): Promise<ConsumerInfo> {
    const jsm = session.jsm!;
    let info: ConsumerInfo | undefined;
    try {
      info = await jsm.consumers.info(session.stream, opts.name);
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.apiError().err_code !== 10014) throw err;
    }
    if (info === undefined) {
      log.info('creating the durable consumer');
      return jsm.consumers.add(session.stream, durableConfig());
    }
    const want = durableConfig();
    if (
      info.config.max_ack_pending !== want.max_ack_pending ||
      info.config.inactive_threshold !== want.inactive_threshold
    ) {
      return jsm.consumers.update(session.stream, opts.name, {
        max_ack_pending: want.max_ack_pending!,
        inactive_threshold: want.inactive_threshold!,
      });
    }
    return info;
  }

  function untilUp(): Promise<void> {
    if (session.state === 'up' || closed) return Promise.resolve();
    return new Promise((resolve) => {
      wake = () => {
        if (session.state === 'up' || closed) {
          wake = undefined;
          resolve();
        }
      };
    });
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        resolve();
      }, ms);
    });
  }

  /** The consume loop: (re)opens the durable after any failure until closed. */
  async function run(): Promise<void> {
    while (!closed) {
      await untilUp();
      if (closed) return;
      try {
        const info = await ensureDurable();
        const si = await session.streamInfo();
        lastSeq = Math.max(lastSeq, si.state.last_seq);
        // The durable resumes after its ack floor: anything at or below it was handed over.
        if (delivered === 0) delivered = info.ack_floor.stream_seq;
        const c = await session.js!.consumers.get(session.stream, opts.name);
        // A callback per message, not an async iterator: no promise per message.
        iter = await c.consume({ max_messages: opts.window, abort_on_missing_resource: true, callback: onMessage });
        consuming = true;
        backoff.reset();
        report();
        await iter.closed();
        if (closed) return;
        log.warn('the durable consumer stopped; opening it again');
      } catch (err) {
        if (closed) return;
        log.warn({ err: (err as Error).message }, 'consuming the stream failed; retrying');
      }
      consuming = false;
      iter = undefined;
      unacked = [];
      report('consumer restarting');
      await pause(backoff.next());
    }
  }

  function onMessage(m: JsMsg): void {
    const info = m.info;
    const seq = info.streamSequence;
    const head = seq + info.pending;
    if (head > lastSeq) lastSeq = head;
    lag = info.pending;
    if (held.length > 0 || seq > delivered + 1) {
      // A gap (or a fill under way): later messages wait until the gap is read from the stream.
      held.push(m);
      if (!filling) void fill();
      return;
    }
    take(m);
  }

  function take(m: JsMsg): void {
    const seq = m.info.streamSequence;
    if (seq <= delivered) return; // a redelivery of what was handed over
    unacked.push(m);
    delivered = seq;
    const q = toQueueMessage(m);
    if (q) add(q);
  }

  /**
   * Messages the durable skipped (lost with a connection) are read from the stream, in order,
   * before the held ones; a failed read is retried with backoff.
   */
  async function fill(): Promise<void> {
    filling = true;
    const retry = createBackoff(opts.reconnectMinMs, opts.reconnectMaxMs);
    try {
      while (held.length > 0 && !closed) {
        const next = held[0]!;
        const to = next.info.streamSequence - 1;
        let from = delivered + 1;
        try {
          while (from <= to && !closed) {
            const page = await readRange(from, to, undefined, 1000);
            for (const q of page.messages) {
              if (q.seq <= delivered) continue;
              delivered = q.seq;
              add(q);
            }
            if (!page.more) break;
            from = page.next;
          }
        } catch (err) {
          log.warn({ err: (err as Error).message, from, to }, 'reading a gap from the stream failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, retry.next()).unref());
          continue;
        }
        if (delivered < to) delivered = to;
        // Hand over the held messages up to the next gap.
        while (held.length > 0 && held[0]!.info.streamSequence <= delivered + 1) take(held.shift()!);
      }
    } finally {
      filling = false;
    }
  }

  function add(q: QueueMessage): void {
    batch.push(q);
    handScheduled ??= setImmediate(hand);
  }

  function hand(): void {
    handScheduled = undefined;
    if (lag >= 0) opts.onLag?.(lag);
    lag = -1;
    const out = batch;
    batch = [];
    if (out.length === 0) return;
    try {
      onMessages?.(out);
    } catch (err) {
      log.error({ err }, 'onMessages threw; the batch counts as handed over');
    }
  }

  /** The newest delivered message at or below the wanted ack, taken off the unacked list. */
  function takeAck(): JsMsg | undefined {
    if (ackTimer) clearTimeout(ackTimer);
    ackTimer = undefined;
    let i = -1;
    while (i + 1 < unacked.length && unacked[i + 1]!.seq <= ackWanted) i++;
    if (i < 0) return undefined;
    const m = unacked[i]!;
    unacked = unacked.slice(i + 1);
    return m;
  }

  function flushAck(): void {
    const m = takeAck();
    if (!m) return;
    try {
      m.ack(); // AckPolicy.All: acknowledges every earlier message too
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'ack failed; the durable redelivers and duplicates are dropped');
    }
  }

  const reader = createStreamReader(session);

  /** A one-shot read of the stream; what it saw of the stream's head counts as known. */
  async function readRange(
    from: number,
    to: number,
    pattern: string | undefined,
    limit: number,
  ): Promise<ReplayResult> {
    const { lastSeq: head, ...page } = await reader.readRange(from, to, pattern, limit);
    if (head > lastSeq) lastSeq = head;
    return page;
  }

  return {
    get state() {
      return effectiveState();
    },
    get lastSeq() {
      return lastSeq;
    },
    start(cb) {
      if (onMessages) throw new Error('queue consumer already started');
      onMessages = cb;
      void run();
    },
    ack(seq) {
      if (seq <= ackWanted) return;
      ackWanted = seq;
      if (ackDelayMs === 0) flushAck();
      else ackTimer ??= setTimeout(flushAck, ackDelayMs);
    },
    async replay(from, to, pattern, limit) {
      if (session.state !== 'up') throw new ProtocolError('UNAVAILABLE', 'the JetStream queue is down');
      if (replays >= MAX_PENDING_REPLAYS) throw new ProtocolError('LIMIT_EXCEEDED', 'too many replays in flight');
      replays++;
      try {
        return await readRange(from, to, pattern, limit);
      } catch (err) {
        if (err instanceof ProtocolError) throw err;
        throw new ProtocolError('UNAVAILABLE', `replay failed: ${(err as Error).message}`);
      } finally {
        replays--;
      }
    },
    async seqAtTime(ms) {
      if (session.state !== 'up') throw new ProtocolError('UNAVAILABLE', 'the JetStream queue is down');
      return reader.seqAtTime(ms);
    },
    async close() {
      if (closed) return;
      // The last ack waits for the server's confirmation: a fire-and-forget one could still be
      // on its way when the same durable is opened again, which would then resend what it covered.
      const last = takeAck();
      closed = true;
      if (last && session.state === 'up') {
        await last.ackAck({ timeout: FINAL_ACK_TIMEOUT_MS }).catch((err: unknown) => {
          log.warn({ err: (err as Error).message }, 'the last ack was not confirmed; the durable may resend it');
        });
      }
      unwatch();
      wake?.();
      if (retryTimer) clearTimeout(retryTimer);
      if (handScheduled) clearImmediate(handScheduled);
      handScheduled = undefined;
      const it = iter;
      iter = undefined;
      if (it) await it.close().catch(() => undefined);
      report();
    },
  };
}
