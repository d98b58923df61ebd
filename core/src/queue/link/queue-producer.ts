/**
 * The default QueueProducer: appends go to the msgqueue's /pushmsg over wsq.link.v3.
 *
 * Every accepted message waits in a bounded outbox until the queue acknowledges it. Messages
 * appended in one event-loop turn leave together in as few `append` frames as possible, with
 * at most `maxInflightBatches` frames unanswered (flow control). After a reconnect every
 * un-acknowledged message is sent again in the original order; each carries a `pid` (the
 * caller's, or a generated one, sent as a counter: generated-pid.ts) so the queue's dedupe
 * makes re-sends harmless.
 *
 * Legacy link (a ws-go msgqueue, see link-client.ts): each message is one
 * `{"Topic","Content"}` text frame. ws-go never acknowledges, so a message counts as taken
 * once the socket accepted its bytes (ws's send callback) and its "seq" is a counter local to
 * this producer (1, 2, …), not a queue position. Re-sends after a drop may duplicate there.
 */
import { randomBytes } from 'node:crypto';
import { ProtocolError } from '../../protocol/errors.js';
import { encodeLegacyData } from '../../protocol/legacy.js';
import { isValidTopic } from '../../protocol/topics.js';
import { createLinkClient, readLinkReply, type LinkClientOptions } from './link-client.js';
import { encodeLink, type LinkAppendItem, type LinkFrame } from '../../protocol/link.js';
import { turnNow } from '../../observe/turn-clock.js';
import { Outbox, appendByOffer, type OutboxEntry } from '../outbox.js';
import { SendSchedule } from '../send-schedule.js';
import type { AppendDone, AppendRequest, QueueProducer } from '../queue.js';

export interface QueueProducerOptions extends LinkClientOptions {
  /** Max messages accepted but not yet acknowledged by the queue (default 10000). */
  outboxMessages: number;
  /** Max bytes (topic + data + pid) of those (default 8 MiB). */
  outboxBytes: number;
  /** Messages per append frame (default 512). */
  maxBatchMessages?: number;
  /** Bytes per append frame, beyond which a batch is cut (default 1 MiB; one message always fits). */
  maxBatchBytes?: number;
  /** Append frames sent and not yet answered (default 8). */
  maxInflightBatches?: number;
  /** How long a message may wait for others before it is sent (default 0: at the end of the turn; send-schedule.ts). */
  lingerMs?: number;
  /**
   * Told the outbox's depth (messages) and bytes after every append and after every answer
   * from the queue that settled messages (once per batch, not per message): lets a caller
   * apply backpressure with high/low-water marks without polling.
   */
  onDepth?(depth: number, bytes: number): void;
  /**
   * Told of every message the queue journaled, with the `performance.now()` of its `offer`
   * (turnNow: shared by the messages of one socket read) and of the answer (read once per
   * answer, not per message):
   * lets the caller count and time them without wrapping each message's callback.
   */
  onJournaled?(acceptedAt: number, journaledAt: number): void;
}

export const PRODUCER_DEFAULTS = {
  outboxMessages: 10_000,
  outboxBytes: 8 * 1024 * 1024,
  maxBatchMessages: 512,
  maxBatchBytes: 1024 * 1024,
  maxInflightBatches: 8,
} as const;

/**
 * One message in the outbox; it is its own append item (no second object per message). It
 * carries the client's pid, or else a counter: its pid is generatedPid(producer, counter).
 */
interface Entry extends LinkAppendItem, OutboxEntry {}

/** Codes after which the queue may take the same messages later: keep them and reconnect. */
const RETRYABLE = new Set(['UNAVAILABLE', 'INTERNAL']);

/**
 * One shared refusal: a full outbox refuses per message under load, so no Error (and stack)
 * per refusal. Not frozen, because test frameworks annotate the errors they inspect.
 */
const OUTBOX_FULL = new ProtocolError('UNAVAILABLE', 'the queue outbox is full');
const CLOSED = new ProtocolError('UNAVAILABLE', 'the queue producer is closed');
const BAD_TOPIC = new ProtocolError('BAD_TOPIC', 'not a topic the link can carry');

export function createQueueProducer(opts: QueueProducerOptions): QueueProducer {
  const maxBatchMessages = opts.maxBatchMessages ?? PRODUCER_DEFAULTS.maxBatchMessages;
  const maxBatchBytes = opts.maxBatchBytes ?? PRODUCER_DEFAULTS.maxBatchBytes;
  const maxInflightBatches = opts.maxInflightBatches ?? PRODUCER_DEFAULTS.maxInflightBatches;
  const log = opts.log.child({ component: 'queue-producer', link: 'pushmsg' });
  /** Names this producer's generated pids (generated-pid.ts); messages without a pid are numbered. */
  const producer = randomBytes(9).toString('base64url');
  let pidCounter = 0;

  /** Un-acknowledged messages in append order: entries[head..] (done ones are skipped). */
  let entries: Entry[] = [];
  let head = 0;
  /** entries[cursor..] are not sent on the current socket. */
  let cursor = 0;
  const outbox = new Outbox(opts, log, 'the msgqueue');
  let closed = false;
  /** The last topic offer() checked; undefined until one passed, so no topic skips the check. */
  let lastTopic: string | undefined;
  const schedule = new SendSchedule(opts.lingerMs ?? 0, () => flush());
  const inflight = new Map<number, Entry[]>();
  let nextRef = 1;
  /** Legacy link: sends whose callback has not fired, the socket generation, the local seq. */
  let legacyInflight = 0;
  let generation = 0;
  let legacySeq = 0;

  const link = createLinkClient(opts, '/pushmsg', {
    onOpen() {
      generation++;
      link.markUp();
    },
    onUp: flush,
    onFrame,
    onDown() {
      // Whatever was in flight may or may not have been taken: send it all again, in order.
      generation++;
      inflight.clear();
      legacyInflight = 0;
      cursor = head;
    },
  });
  link.start();

  function advanceHead(): void {
    while (head < entries.length && entries[head]!.done === undefined) head++;
    if (head > 1024 && head * 2 > entries.length) {
      entries = entries.slice(head);
      cursor = Math.max(0, cursor - head);
      head = 0;
    }
    outbox.changed();
  }

  function onFrame(frame: LinkFrame): void {
    const reply = readLinkReply(link, frame);
    if (!reply) return;
    switch (reply.op) {
      case 'appended': {
        const batch = inflight.get(reply.ref);
        if (!batch) return; // an answer to a frame sent on a previous socket
        inflight.delete(reply.ref);
        if (!Array.isArray(reply.seqs) || reply.seqs.length !== batch.length) {
          link.drop('appended reply does not match its batch');
          return;
        }
        const now = performance.now();
        for (let i = 0; i < batch.length; i++) outbox.settle(batch[i]!, reply.seqs[i]!, now);
        advanceHead();
        // Room in the window: send what waits, unless it is lingering for more.
        if (!schedule.lingering) flush();
        return;
      }
      case 'error': {
        const batch = reply.ref === undefined ? undefined : inflight.get(reply.ref);
        if (!batch || RETRYABLE.has(reply.code)) {
          // Keep the messages; the reconnect sends them again in order.
          link.drop(`msgqueue answered ${reply.code}`);
          return;
        }
        inflight.delete(reply.ref!);
        log.warn({ code: reply.code, messages: batch.length }, 'msgqueue refused an append batch');
        for (const e of batch) outbox.settle(e, new ProtocolError(reply.code, reply.message));
        advanceHead();
        flush();
        return;
      }
      case 'consuming':
      case 'msgs':
      case 'replayed':
      case 'sought':
        link.drop(`unexpected ${reply.op} frame on the producer link`);
        return;
      default: {
        const never: never = reply;
        return never;
      }
    }
  }

  function flush(): void {
    if (link.state !== 'up') return;
    if (link.legacy) return flushLegacy();
    while (inflight.size < maxInflightBatches && cursor < entries.length) {
      const batch: Entry[] = [];
      let size = 0;
      while (cursor < entries.length && batch.length < maxBatchMessages) {
        const e = entries[cursor]!;
        if (e.done === undefined) {
          cursor++;
          continue;
        }
        if (batch.length > 0 && size + e.bytes > maxBatchBytes) break;
        batch.push(e);
        size += e.bytes;
        cursor++;
      }
      if (batch.length === 0) return;
      const ref = nextRef++;
      inflight.set(ref, batch);
      if (!link.send(encodeLink({ op: 'append', ref, msgs: batch, producer }))) return;
    }
  }

  function flushLegacy(): void {
    const limit = maxInflightBatches * maxBatchMessages;
    const gen = generation;
    while (legacyInflight < limit && cursor < entries.length) {
      const e = entries[cursor++]!;
      if (e.done === undefined) continue;
      legacyInflight++;
      const sent = link.send(encodeLegacyData(e.topic, e.data), (err) => {
        if (gen !== generation) return; // that socket is gone; the entry was queued again
        legacyInflight--;
        if (err) return;
        outbox.settle(e, ++legacySeq, performance.now());
        advanceHead();
        flush();
      });
      if (!sent) return;
    }
  }

  function offer<C>(msg: AppendRequest, done: AppendDone<C>, ctx: C): ProtocolError | undefined {
    if (closed) return CLOSED;
    // Callers check topics, but one the link encoder refused would fail a whole batch, and
    // a throw there is no one's to catch: refuse it here. Repeated topics skip the check.
    if (msg.topic !== lastTopic) {
      if (!isValidTopic(msg.topic)) return BAD_TOPIC;
      lastTopic = msg.topic;
    }
    const pid = msg.pid;
    // A counter takes 8 bytes on the link, about what a pid of its own would count for.
    const size = Buffer.byteLength(msg.data) + msg.topic.length + (pid === undefined ? 8 : pid.length);
    if (!outbox.take(size, { state: link.state })) return OUTBOX_FULL;
    entries.push({
      topic: msg.topic,
      data: msg.data,
      ts: msg.ts,
      pid,
      counter: pid === undefined ? pidCounter++ : undefined,
      bytes: size,
      acceptedAt: turnNow(),
      done: done as AppendDone<unknown>,
      ctx,
    });
    schedule.offered(entries.length - cursor >= maxBatchMessages);
    outbox.changed();
    return undefined;
  }

  return {
    get state() {
      return link.state;
    },
    get outboxDepth() {
      return outbox.depth;
    },
    offer,
    append: (msg) => appendByOffer(offer, msg),
    async close() {
      if (closed) return link.close();
      closed = true;
      schedule.cancel();
      const err = new ProtocolError('UNAVAILABLE', 'the queue producer closed before the msgqueue took the message');
      for (let i = head; i < entries.length; i++) outbox.settle(entries[i]!, err);
      entries = [];
      head = cursor = 0;
      inflight.clear();
      await link.close();
    },
  };
}
