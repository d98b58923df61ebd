/**
 * One worker's share of a scenario run: its subscriber connections (each with a bitmap of the
 * messages it got, for loss and duplicate counts, and one latency histogram for all) and its
 * publishers (as fast as the socket drains, or at a fixed rate). The worker entry (worker.ts)
 * wires it to the main thread; tests can drive it directly.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { openPublisher, openSubscriber } from './clients.js';
import { newStamp, nowMs, parseStamp } from './payload.js';
import type { PublisherConn, SubscriberConn } from './transport.js';
import {
  expectedOnTopic,
  messagesOfPublisher,
  type WorkerCounts,
  type WorkerSetup,
  type WorkerToMain,
} from './worker-protocol.js';

/** Messages sent in one socket write before the publisher yields so this thread's receivers run. */
const BURST_MESSAGES = 256;
/** How often a worker waiting for acks looks at the count. */
const ACK_POLL_MS = 5;
/** Timer tick of a rate-paced publisher. */
const PACE_TICK_MS = 1;

interface SubState {
  topic: number;
  expected: number;
  seen: Uint8Array;
  received: number;
  ready: boolean;
  conn: SubscriberConn | undefined;
}

export async function runPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export class LoadWorker {
  private readonly subs: SubState[];
  private readonly pubs: { index: number; conn: PublisherConn | undefined }[];
  private readonly histogram = build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3 });
  /** How long each acknowledged (or refused) message waited for its answer, µs. */
  private readonly ackHistogram = build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3 });
  private readonly stamp = newStamp();
  private counts: WorkerCounts = { published: 0, received: 0, ready: 0 };
  private duplicates = 0;
  private unexpected = 0;
  private complete = 0;
  private lastReceiveAtMs = 0;
  private finishing = false;
  private readonly closedByServer: Record<string, number> = {};
  private progressTimer: NodeJS.Timeout | undefined;
  /** Publishers waiting for acks to come back under the in-flight bound. */
  private answerWaiters: (() => void)[] = [];
  private eluAtStart: EventLoopUtilization | undefined;

  constructor(
    private readonly setup: WorkerSetup,
    private readonly post: (msg: WorkerToMain) => void,
  ) {
    const topics = setup.topicNames.length;
    this.subs = setup.subscribers.map((s) => ({
      topic: s % topics,
      expected: expectedOnTopic(setup.messages, topics, s % topics),
      seen: new Uint8Array(Math.ceil(setup.messages / 8)),
      received: 0,
      ready: false,
      conn: undefined,
    }));
    this.pubs = setup.publishers.map((index) => ({ index, conn: undefined }));
  }

  /** Opens every connection and subscribes; posts `connected`. */
  async connect(): Promise<void> {
    const { endpoint, connectConcurrency, topicNames } = this.setup;
    const onClose = (code: number): void => {
      if (!this.finishing) this.closedByServer[code] = (this.closedByServer[code] ?? 0) + 1;
    };
    let confirmed = 0;
    await runPool(this.subs, connectConcurrency, async (sub) => {
      sub.conn = await openSubscriber(
        endpoint,
        (frame, start, end) => this.onDelivery(sub, frame, start, end),
        onClose,
      );
      if ((await sub.conn.subscribe(topicNames[sub.topic])).confirmed) {
        confirmed++;
        this.markReady(sub);
      }
    });
    const publishSetup = {
      topicNames,
      payloadBytes: this.setup.payloadBytes,
      onAnswer: (waitedMs: number) => {
        if (waitedMs > 0) this.ackHistogram.recordValue(Math.max(1, Math.round(waitedMs * 1000)));
        this.wakeAnswerWaiters();
      },
    };
    await runPool(this.pubs, connectConcurrency, async (pub) => {
      pub.conn = await openPublisher(endpoint, onClose, publishSetup);
    });
    this.progressTimer = setInterval(
      () => this.post({ type: 'progress', ...this.counts }),
      this.setup.progressIntervalMs,
    );
    this.post({ type: 'connected', confirmed });
  }

  private markReady(sub: SubState): void {
    if (sub.ready) return;
    sub.ready = true;
    this.counts.ready++;
    if (this.counts.ready === this.subs.length) this.post({ type: 'progress', ...this.counts });
  }

  private onDelivery(sub: SubState, frame: Buffer, start: number, end: number): void {
    const stamp = parseStamp(frame, this.stamp, start, end);
    if (stamp.kind === 'probe') return this.markReady(sub);
    if (stamp.kind !== 'msg') return;
    const now = nowMs();
    const i = stamp.index;
    if (i >= this.setup.messages || i % this.setup.topicNames.length !== sub.topic) {
      this.unexpected++;
      return;
    }
    const bit = 1 << (i & 7);
    if ((sub.seen[i >> 3] & bit) !== 0) {
      this.duplicates++;
      return;
    }
    sub.seen[i >> 3] |= bit;
    if (!sub.ready) this.markReady(sub);
    sub.received++;
    this.counts.received++;
    this.lastReceiveAtMs = now;
    this.histogram.recordValue(Math.max(1, Math.round((now - stamp.sentAtMs) * 1000)));
    if (sub.received === sub.expected && ++this.complete === this.subs.length) {
      this.post({ type: 'progress', ...this.counts });
    }
  }

  private wakeAnswerWaiters(): void {
    if (this.answerWaiters.length === 0) return;
    const waiters = this.answerWaiters;
    this.answerWaiters = [];
    for (const w of waiters) w();
  }

  /** The next ack or refusal; fails after idleTimeoutMs without one (a dead server must not hang the run). */
  private nextAnswer(inFlight: number): Promise<void> {
    const { idleTimeoutMs } = this.setup;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ack for ${idleTimeoutMs} ms with ${inFlight} messages in flight`)),
        idleTimeoutMs,
      );
      this.answerWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Publishes this worker's share; posts `published` when every publisher is done. */
  start(): void {
    this.eluAtStart = performance.eventLoopUtilization();
    let lastSendAtMs = 0;
    const runs = this.pubs.map(async ({ index, conn }) => {
      const last = await (this.setup.publisherRatePerSec > 0 ? this.paced(index, conn!) : this.fast(index, conn!));
      lastSendAtMs = Math.max(lastSendAtMs, last);
    });
    Promise.all(runs)
      .then(() => this.acksIn())
      .then(
        () => this.post({ type: 'published', published: this.counts.published, lastSendAtMs, failed: undefined }),
        (err: unknown) =>
          this.post({ type: 'published', published: this.counts.published, lastSendAtMs, failed: String(err) }),
      );
  }

  /**
   * With acks, publishing ends when every message sent is acknowledged or refused, or when no
   * ack came for the idle timeout (the missing ones are then reported).
   */
  private async acksIn(): Promise<void> {
    if (this.setup.endpoint.acks !== true) return;
    const answered = (): number => this.pubs.reduce((n, p) => n + (p.conn?.acked ?? 0) + (p.conn?.refused ?? 0), 0);
    let seen = -1;
    let since = nowMs();
    for (;;) {
      const now = answered();
      if (now >= this.counts.published) return;
      if (now !== seen) [seen, since] = [now, nowMs()];
      else if (nowMs() - since > this.setup.idleTimeoutMs) return;
      await new Promise((resolve) => setTimeout(resolve, ACK_POLL_MS));
    }
  }

  /**
   * As fast as the socket drains, in bursts of pre-built frames (one write each): past
   * publisherBufferBytes unsent, wait until the burst is written. With acks and an in-flight
   * bound, never more than that many messages unanswered.
   */
  private async fast(p: number, conn: PublisherConn): Promise<number> {
    const { messages, publisherCount, publisherBufferBytes, endpoint } = this.setup;
    const window = endpoint.acks === true ? (endpoint.inFlight ?? 0) : 0;
    const total = messagesOfPublisher(messages, publisherCount, p);
    let last = 0;
    let sent = 0;
    while (sent < total) {
      let n = Math.min(BURST_MESSAGES, total - sent);
      if (window > 0) {
        let outstanding: number;
        while ((outstanding = sent - conn.acked - conn.refused) >= window) await this.nextAnswer(outstanding);
        n = Math.min(n, window - outstanding);
      }
      const first = p + sent * publisherCount;
      if (conn.bufferedAmount >= publisherBufferBytes || sent + n >= total) {
        await new Promise<void>((resolve, reject) => {
          last = conn.sendBatch(first, publisherCount, n, (err) => (err ? reject(err) : resolve()));
        });
      } else last = conn.sendBatch(first, publisherCount, n);
      sent += n;
      this.counts.published += n;
      await nextTurn();
    }
    return last;
  }

  /** A fixed rate: each tick sends what the clock says is due, in one write (open loop: no waiting on the server). */
  private paced(p: number, conn: PublisherConn): Promise<number> {
    const { messages, publisherCount, publisherRatePerSec } = this.setup;
    const total = messagesOfPublisher(messages, publisherCount, p);
    const startMs = nowMs();
    let sent = 0;
    let last = 0;
    return new Promise((resolve) => {
      const tick = (): void => {
        const due = Math.min(total, Math.floor(((nowMs() - startMs) * publisherRatePerSec) / 1000) + 1);
        if (due > sent) {
          last = conn.sendBatch(p + sent * publisherCount, publisherCount, due - sent);
          this.counts.published += due - sent;
          sent = due;
        }
        if (sent >= total) {
          clearInterval(timer);
          resolve(last);
        }
      };
      const timer = setInterval(tick, PACE_TICK_MS);
      tick();
    });
  }

  /** Closes everything and posts the result. */
  finish(): void {
    this.finishing = true;
    clearInterval(this.progressTimer);
    let refused = 0;
    let acked = 0;
    for (const pub of this.pubs) {
      refused += pub.conn?.refused ?? 0;
      acked += pub.conn?.acked ?? 0;
      pub.conn?.close();
    }
    for (const sub of this.subs) sub.conn?.close();
    this.post({
      type: 'result',
      ...this.counts,
      duplicates: this.duplicates,
      unexpected: this.unexpected,
      receivedBySubscriber: this.subs.map((s) => s.received),
      closedByServer: this.closedByServer,
      refused,
      acked,
      lastReceiveAtMs: this.lastReceiveAtMs,
      histogram: encodeIntoCompressedBase64(this.histogram),
      ...(this.setup.endpoint.acks === true ? { ackHistogram: encodeIntoCompressedBase64(this.ackHistogram) } : {}),
      busy: this.eluAtStart ? performance.eventLoopUtilization(this.eluAtStart).utilization : 0,
    });
  }
}
