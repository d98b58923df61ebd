/**
 * The queue behind publisher and subscriber (DESIGN section 5): one interface, injected into
 * their factories as a QueueHome. Its homes: the msgqueue service over the `wsq.link.v3`
 * WebSocket link (link/), the journal in the same process (msgqueue's embedded/, used by
 * wsq-server), and NATS JetStream.
 */
import type { ProtocolError } from '../protocol/errors.js';

export interface QueueMessage {
  /** Assigned by the queue, strictly increasing across the whole log. */
  seq: number;
  topic: string;
  /** JSON text of the payload. */
  data: string;
  /** Milliseconds since the epoch when the publisher accepted it. */
  ts: number;
}

export interface AppendRequest {
  topic: string;
  data: string;
  ts: number;
  /** Idempotency key: the same key within the dedupe window yields the original seq. */
  pid?: string;
}

export type LinkState = 'connecting' | 'up' | 'down' | 'closed';

export interface QueueLinkEvents {
  /** Called whenever the link goes up or down (readiness follows it). */
  onState?(state: LinkState, detail?: string): void;
}

/**
 * Told once how an offered message ended: `err` undefined and its seq once the queue journaled
 * it, or the refusal. `ctx` is whatever the caller passed to `offer`, so that one function
 * can serve every message of a connection without a closure (or a Promise) per message.
 */
export type AppendDone<C> = (ctx: C, err: ProtocolError | undefined, seq: number) => void;

/** What the publisher needs: append and learn seqs once the queue journaled the message. */
export interface QueueProducer {
  readonly state: LinkState;
  /**
   * The hot path behind `append`: takes the message into the outbox and calls `done` once,
   * later, when the queue journaled it (or refused it). When the outbox is full or the
   * producer is closed it returns the refusal (code UNAVAILABLE) at once and `done` is never
   * called; otherwise it returns undefined.
   */
  offer<C>(msg: AppendRequest, done: AppendDone<C>, ctx: C): ProtocolError | undefined;
  /**
   * Resolves with the message's seq once the queue has written it to its journal. While the
   * queue is unreachable messages wait in a bounded outbox; past it this rejects with a
   * ProtocolError of code UNAVAILABLE.
   */
  append(msg: AppendRequest): Promise<number>;
  /** Messages accepted but not yet acknowledged by the queue. */
  readonly outboxDepth: number;
  close(): Promise<void>;
}

export interface ReplayResult {
  messages: QueueMessage[];
  /** Oldest retained seq: a replay from below it did not recover everything. */
  firstSeq: number;
  /** True when the range was cut short (by the limit or the queue's scan budget); continue from `next`. */
  more: boolean;
  /**
   * The first seq not yet looked at: where to continue when `more`. A pattern replay may be
   * cut with no message matched yet, so "last seq + 1" is not enough.
   */
  next: number;
}

/** What the subscriber needs: a durable cursor streamed in order, plus range replays. */
export interface QueueConsumer {
  readonly state: LinkState;
  /** The highest seq the queue has told us about (live head). */
  readonly lastSeq: number;
  /**
   * Starts streaming from the durable cursor `name`. `onMessages` gets batches in seq
   * order; call `ack(seq)` once they are handed to the clients.
   */
  start(onMessages: (batch: QueueMessage[]) => void): void;
  ack(seq: number): void;
  replay(from: number, to: number, pattern: string | undefined, limit: number): Promise<ReplayResult>;
  /**
   * The seq of the first retained message with ts >= `ms` (ms since the epoch), or lastSeq + 1
   * when there is none; found without scanning the log (a date range's first seq). `ts` is the
   * publisher's accept time, so a later seq may carry an earlier ts: messages after the answer
   * may be older than `ms`, none before it is newer.
   */
  seqAtTime(ms: number): Promise<number>;
  close(): Promise<void>;
}

/** What the publisher tells the producer it opens: its outbox bounds and the events it follows. */
export interface ProducerHooks extends QueueLinkEvents {
  /** Max messages accepted but not yet acknowledged by the queue. */
  outboxMessages: number;
  /** Max bytes (topic + data + pid) of those. */
  outboxBytes: number;
  /**
   * How long an offered message may wait for others before it is sent (`--queue-linger-ms`;
   * default 0: at the end of the event-loop turn). See send-schedule.ts.
   */
  lingerMs?: number;
  /** Told the outbox's depth and bytes whenever they change (once per batch, not per message). */
  onDepth?(depth: number, bytes: number): void;
  /** Told of every journaled message, with the performance.now() of its offer and of the answer. */
  onJournaled?(acceptedAt: number, journaledAt: number): void;
}

/** What the subscriber tells the consumer it opens: its durable name and window. */
export interface ConsumerHooks extends QueueLinkEvents {
  /** The durable consumer's name: its cursor survives restarts. */
  name: string;
  /** Messages handed out and not yet acknowledged, at most. */
  window: number;
}

/**
 * One home of the queue. publisher and subscriber get it from their caller and open their
 * side of it when they start listening; the home owns whatever connections those need.
 */
export interface QueueHome {
  /** Where the queue is, for logs (a URL, or "embedded"). */
  readonly where: string;
  producer(hooks: ProducerHooks): QueueProducer;
  consumer(hooks: ConsumerHooks): QueueConsumer;
}
