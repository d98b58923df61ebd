/**
 * The JetStream QueueProducer: appends are JetStream publishes to `wsq.<topic>` with the
 * message's pid as `Nats-Msg-Id`, so the stream's duplicate window makes re-sends harmless.
 * A v1 client's pid is its own (user + id); a message without one gets a generated pid
 * (generated-pid.ts), so a re-send after a lost PubAck cannot duplicate it either.
 *
 * Every accepted message waits in a bounded outbox (as with the link producer) until its
 * PubAck; up to `maxInflight` publishes are unanswered at once (async publishes, not one
 * round trip per message). They are plain NATS publishes with a reply subject under one inbox
 * subscription, and one timer sweeps the unanswered ones: no request, promise or timer per
 * message (what `js.publish` costs, several times the rest of the publisher's work). Per-topic order across failures: on the first failed publish
 * (no stream leader, lost connection, timeout) nothing more is sent; once every publish in
 * flight has been answered, the outbox is sent again from its oldest unacknowledged message,
 * one publish at a time until one succeeds, then with the full window again. So a message
 * is never stored after a later one of the same producer was sent and answered.
 */
import { randomBytes } from 'node:crypto';
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ProtocolError } from '../../protocol/errors.js';
import { generatedPid } from '../../protocol/generated-pid.js';
import { isValidTopic } from '../../protocol/topics.js';
import type { Logger } from '../../observe/log.js';
import { turnNow } from '../../observe/turn-clock.js';
import { Outbox, appendByOffer, type OutboxEntry } from '../outbox.js';
import { FULL_BATCH_MESSAGES, SendSchedule } from '../send-schedule.js';
import type { AppendDone, AppendRequest, LinkState, ProducerHooks, QueueProducer } from '../queue.js';
import { createBackoff } from '../backoff.js';
import type { Session } from './session.js';
import { topicToSubject } from './subjects.js';

/** The header that carries the publisher's accept time (ms since the epoch). */
export const TS_HEADER = 'Wsq-Ts';

export interface JetStreamProducerOptions extends ProducerHooks {
  log: Logger;
  /** Publishes sent and not yet answered (default 1024). */
  maxInflight?: number;
  /** How long a publish waits for its PubAck before it counts as failed (default 2000 ms). */
  publishTimeoutMs?: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export const JETSTREAM_PRODUCER_DEFAULTS = { maxInflight: 1024, publishTimeoutMs: 2000 } as const;

interface Entry extends OutboxEntry {
  /** The reply token of its publish in flight. */
  token: string;
  sentAt: number;
  subject: string;
  payload: Uint8Array;
  /** Its `Nats-Msg-Id` and `Wsq-Ts` headers, encoded once (a re-send reuses them). */
  headers: MsgHdrs;
}

const OUTBOX_FULL = new ProtocolError('UNAVAILABLE', 'the queue outbox is full');
const CLOSED = new ProtocolError('UNAVAILABLE', 'the queue producer is closed');
const BAD_TOPIC = new ProtocolError('BAD_TOPIC', 'not a valid topic');
const TOO_LARGE = new ProtocolError('TOO_LARGE', 'larger than the NATS max_payload');

/**
 * A pid as a Nats-Msg-Id: header values are one line of printable text, so a pid with other
 * characters (a client id may hold any JSON string) goes as `~` + base64url of its UTF-8.
 * Injective: a pid kept as it is never starts with `~`.
 */
export function msgIdOf(pid: string): string {
  return /^[!-}][!-~]*$/.test(pid) ? pid : '~' + Buffer.from(pid).toString('base64url');
}

/**
 * A publish's headers, encoded when the message is accepted. nats.js's publish reads a
 * headers object only through `encode()`; building its MsgHdrs instead (a Map, a canonical
 * key check and a regex per value, then a string and a TextEncoder pass per publish) was a
 * tenth of the publisher's time. core/test/jetstream-home.test.ts checks on a real
 * nats-server that both headers arrive and that the id deduplicates.
 */
class EncodedHeaders {
  constructor(private readonly bytes: Uint8Array) {}
  encode(): Uint8Array {
    return this.bytes;
  }
}

/** The headers of one publish: the msg id is printable ASCII (msgIdOf), the ts digits. */
export function publishHeaders(msgId: string, ts: number): MsgHdrs {
  const text = `NATS/1.0\r\nNats-Msg-Id: ${msgId}\r\n${TS_HEADER}: ${ts}\r\n\r\n`;
  return new EncodedHeaders(Buffer.from(text, 'latin1')) as unknown as MsgHdrs;
}

const SEQ_FIELD = Buffer.from('"seq":');
const ERROR_FIELD = Buffer.from('"error"');

/**
 * The seq of a plain PubAck (`{"stream":…,"seq":N…}`, no error), read off the bytes; else
 * undefined, and readPubAck parses the JSON. Every publish gets one of these answers.
 */
export function plainPubAckSeq(data: Uint8Array): number | undefined {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length === 0 || b.indexOf(ERROR_FIELD) >= 0) return undefined;
  const at = b.indexOf(SEQ_FIELD);
  if (at < 0) return undefined;
  let seq = 0;
  let i = at + SEQ_FIELD.length;
  const start = i;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c < 48 || c > 57) break;
    seq = seq * 10 + (c - 48);
  }
  if (i === start || i - start > 15 || (b[i] !== 44 && b[i] !== 125)) return undefined;
  return seq;
}

/** Why a publish failed: `refusal` set when it would fail the same way again (else retry). */
interface Failure {
  text: string;
  refusal?: ProtocolError;
}

/** The answer to a publish: its stream seq, or the failure. */
export function readPubAck(msg: Pick<Msg, 'headers' | 'string' | 'data'>): number | Failure {
  const h = msg.headers;
  if (h?.hasError) return { text: `${h.code} ${h.description || 'no stream leader'}` };
  const seq = plainPubAckSeq(msg.data);
  if (seq !== undefined) return seq;
  let ack: { seq?: unknown; error?: { code?: number; err_code?: number; description?: string } };
  try {
    ack = JSON.parse(msg.string()) as typeof ack;
  } catch {
    return { text: 'unreadable PubAck' };
  }
  if (ack.error) {
    const text = `JetStream error ${ack.error.err_code ?? ''} ${ack.error.description ?? ''}`.trim();
    if (ack.error.code === 503) return { text };
    return { text, refusal: new ProtocolError('INTERNAL', `JetStream refused the message: ${text}`) };
  }
  return typeof ack.seq === 'number' ? ack.seq : { text: 'PubAck without seq' };
}

export function createJetStreamProducer(session: Session, opts: JetStreamProducerOptions): QueueProducer {
  const log = opts.log.child({ component: 'queue-producer', queue: 'jetstream' });
  const maxInflight = opts.maxInflight ?? JETSTREAM_PRODUCER_DEFAULTS.maxInflight;
  const timeout = opts.publishTimeoutMs ?? JETSTREAM_PRODUCER_DEFAULTS.publishTimeoutMs;
  const retry = createBackoff(opts.reconnectMinMs, Math.min(opts.reconnectMaxMs, 1000));
  const producer = randomBytes(9).toString('base64url');
  let pidCounter = 0;

  let entries: Entry[] = [];
  let head = 0;
  let cursor = 0;
  const outbox = new Outbox(opts, log, 'JetStream');
  let inflight = 0;
  /** Publishes in flight by reply token, oldest first. */
  const pending = new Map<string, Entry>();
  let nextToken = 0;
  let inboxConn: NatsConnection | undefined;
  let inbox = '';
  let inboxSub: Subscription | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastTopic: string | undefined;
  let lastSubject = '';
  /** A publish failed: send nothing until every publish in flight is answered, then rewind. */
  let failed: string | undefined;
  /** After a rewind: one publish at a time until one succeeds. */
  let probing = false;
  const schedule = new SendSchedule(opts.lingerMs ?? 0, () => flush());
  let retryTimer: NodeJS.Timeout | undefined;
  let reported: LinkState = 'connecting';

  function effectiveState(): LinkState {
    if (closed) return 'closed';
    if (failed !== undefined || (probing && session.state === 'up')) return 'down';
    return session.state;
  }

  function report(detail?: string): void {
    const s = effectiveState();
    if (s === reported) return;
    reported = s;
    opts.onState?.(s, detail);
  }

  const unwatch = session.watch((state, detail) => {
    if (state !== 'up') {
      // Whatever is in flight may or may not be stored: send it all again, in order.
      if (inflight > 0 || cursor > head) failed ??= detail ?? 'NATS down';
    }
    report(detail);
    if (state === 'up') rewindWhenQuiet();
  });

  function advanceHead(): void {
    while (head < entries.length && entries[head]!.done === undefined) head++;
    if (head > 1024 && head * 2 > entries.length) {
      entries = entries.slice(head);
      cursor = Math.max(0, cursor - head);
      head = 0;
    }
    outbox.changed();
  }

  /** Once nothing is in flight after a failure: start again from the oldest unacknowledged message. */
  function rewindWhenQuiet(): void {
    if (closed || inflight > 0 || session.state !== 'up') return;
    if (failed !== undefined) {
      failed = undefined;
      probing = true;
      cursor = head;
      report();
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        flush();
      }, retry.next());
      return;
    }
    flush();
  }

  function onAck(e: Entry, seq: number): void {
    inflight--;
    outbox.settle(e, seq, performance.now());
    if (probing && failed === undefined) {
      probing = false;
      retry.reset();
      report();
    }
    advanceHead();
    if (failed !== undefined) rewindWhenQuiet();
    else scheduleFlush();
  }

  function onError(e: Entry, err: Failure): void {
    inflight--;
    const refusal = e.done ? err.refusal : undefined;
    if (refusal) {
      log.warn({ err: err.text }, 'JetStream refused a message');
      outbox.settle(e, refusal);
      advanceHead();
    } else if (e.done && failed === undefined) {
      failed = `publish failed: ${err.text}`;
      log.warn(
        { err: err.text, inflight },
        'JetStream publish failed; re-sending from the oldest unacknowledged message',
      );
      report(failed);
      session.suspect(failed);
    }
    if (failed !== undefined) rewindWhenQuiet();
    else scheduleFlush();
  }

  /** Room in the window again: send what waits (unless it lingers for more). */
  function scheduleFlush(): void {
    schedule.soon();
  }

  function onReply(err: Error | null, msg: Msg): void {
    if (err) return; // the subscription ends with the connection; a new one is made
    const e = pending.get(msg.subject.slice(inbox.length));
    if (!e) return; // answered after its timeout: it is being sent again
    pending.delete(e.token);
    const r = readPubAck(msg);
    if (typeof r === 'number') onAck(e, r);
    else onError(e, r);
  }

  /** Publishes unanswered for the timeout count as failed (the oldest come first). */
  function sweep(): void {
    const now = performance.now();
    for (const e of pending.values()) {
      if (now - e.sentAt < timeout) break;
      pending.delete(e.token);
      onError(e, { text: `no PubAck within ${timeout} ms` });
    }
    if (pending.size === 0 && sweepTimer) {
      clearInterval(sweepTimer);
      sweepTimer = undefined;
    }
  }

  /** The reply inbox of the current connection (a new connection object gets a new one). */
  function replyInbox(nc: NatsConnection): string {
    if (nc !== inboxConn) {
      inboxSub?.unsubscribe();
      inboxConn = nc;
      inbox = createInbox() + '.';
      inboxSub = nc.subscribe(inbox + '*', { callback: onReply });
    }
    return inbox;
  }

  function flush(): void {
    const nc = session.nc;
    if (closed || failed !== undefined || session.state !== 'up' || retryTimer || !nc) return;
    const prefix = replyInbox(nc);
    const window = probing ? 1 : maxInflight;
    const now = performance.now();
    while (inflight < window && cursor < entries.length) {
      const e = entries[cursor++]!;
      if (e.done === undefined) continue;
      inflight++;
      e.token = (nextToken++).toString(36);
      e.sentAt = now;
      pending.set(e.token, e);
      try {
        nc.publish(e.subject, e.payload, { reply: prefix + e.token, headers: e.headers });
      } catch (err) {
        pending.delete(e.token);
        const text = (err as Error).message;
        onError(e, /max.?payload/i.test(text) ? { text, refusal: TOO_LARGE } : { text });
        if (failed !== undefined) return;
      }
    }
    if (pending.size > 0) sweepTimer ??= setInterval(sweep, Math.max(10, timeout / 4));
  }

  function offer<C>(msg: AppendRequest, done: AppendDone<C>, ctx: C): ProtocolError | undefined {
    if (closed) return CLOSED;
    if (msg.topic !== lastTopic) {
      if (!isValidTopic(msg.topic)) return BAD_TOPIC;
      lastTopic = msg.topic;
      lastSubject = topicToSubject(msg.topic);
    }
    const payload = Buffer.from(msg.data);
    const msgId = msgIdOf(msg.pid ?? generatedPid(producer, pidCounter++));
    const size = payload.length + msg.topic.length + msgId.length;
    if (!outbox.take(size, { state: effectiveState() })) return OUTBOX_FULL;
    entries.push({
      token: '',
      sentAt: 0,
      subject: lastSubject,
      payload,
      headers: publishHeaders(msgId, msg.ts),
      bytes: size,
      acceptedAt: turnNow(),
      done: done as AppendDone<unknown>,
      ctx,
    });
    schedule.offered(entries.length - cursor >= FULL_BATCH_MESSAGES);
    outbox.changed();
    return undefined;
  }

  return {
    get state() {
      return effectiveState();
    },
    get outboxDepth() {
      return outbox.depth;
    },
    offer,
    append: (msg) => appendByOffer(offer, msg),
    async close() {
      if (closed) return;
      closed = true;
      unwatch();
      schedule.cancel();
      if (retryTimer) clearTimeout(retryTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      retryTimer = sweepTimer = undefined;
      pending.clear();
      inboxSub?.unsubscribe();
      inboxSub = undefined;
      const err = new ProtocolError('UNAVAILABLE', 'the queue producer closed before JetStream took the message');
      for (let i = head; i < entries.length; i++) outbox.settle(entries[i]!, err);
      entries = [];
      head = cursor = 0;
      report();
    },
  };
}
