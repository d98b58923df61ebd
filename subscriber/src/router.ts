/**
 * Routing: one TopicIndex from patterns to connections. Each queue message is matched once,
 * encoded at most once per protocol into a complete frame, and the same bytes are written to
 * every matching socket (each once, however many of its subscriptions overlap). No socket is
 * ever awaited.
 */
import { TopicIndex, encodeLegacyData, encodeMsg, matchesPattern, type Logger, type QueueMessage } from '@wsq/core';
import type { Client, KickReason, Subscription } from './client.js';
import type { SubscriberMetrics } from './metrics.js';
import { legacyFrame, msgFrame, SharedConcat, type WireFrame } from './wire.js';

/** `from` of a subscription made before the first live message: fixed when it arrives. */
export const PENDING_FROM = Number.MAX_SAFE_INTEGER;

export interface RouterStats {
  connections: number;
  /** (pattern, connection) pairs in the index. */
  subscriptions: number;
  /** Distinct patterns in the index. */
  topics: number;
}

/** The legacy frame of `m` (core's encodeLegacyData: a JSON string `data` is not re-parsed). */
export function encodeLegacyMsg(m: QueueMessage): string {
  return encodeLegacyData(m.topic, m.data);
}

export function encodeFor(client: Client, m: QueueMessage): string {
  return client.mode === 'v1' ? encodeMsg(m.topic, m.seq, m.data, m.ts) : encodeLegacyMsg(m);
}

/** Is any of the client's subscriptions (other than queued ones) still to deliver `m` live? */
function wantsLive(client: Client, m: QueueMessage): boolean {
  for (const s of client.subs.values()) {
    if ((s.state === 'live' || s.state === 'replaying') && s.liveAfter < m.seq && matchesPattern(s.pattern, m.topic))
      return true;
  }
  return false;
}

export class Router {
  readonly clients = new Set<Client>();
  private readonly index = new TopicIndex<Client>();
  /** Reference count per distinct pattern, for the topics gauge. */
  private readonly patterns = new Map<string, number>();
  /** Clients holding frames collected since the last flushWrites, each once. */
  private readonly touched: Client[] = [];
  private readonly shared = new SharedConcat();
  /** The highest seq fanned out; 0 until the first live message. */
  lastDelivered = 0;
  private v1Sent = 0;
  private legacySent = 0;

  constructor(
    private readonly metrics: SubscriberMetrics,
    private readonly log: Logger,
    /** The queue's live head, used before anything was delivered. */
    private readonly head: () => number,
    /** Told after the index changed or a connection left (tests and embedders wait on it). */
    private readonly onChange: () => void = () => {},
  ) {}

  /** Seq after which live delivery continues: exact once something was delivered. */
  position(): number {
    return this.lastDelivered > 0 ? this.lastDelivered : this.head();
  }

  stats(): RouterStats {
    return { connections: this.clients.size, subscriptions: this.index.size, topics: this.patterns.size };
  }

  attach(client: Client): void {
    this.clients.add(client);
  }

  /** Removes every trace of the client; idempotent. */
  detach(client: Client): void {
    if (!this.clients.delete(client)) return;
    for (const sub of client.subs.values()) this.removeFromIndex(client, sub);
    client.subs.clear();
    client.detach();
    this.gauges();
  }

  onKick(client: Client, reason: KickReason, dropped: number): void {
    const { base } = this.metrics;
    base.closes.inc({ reason });
    if (dropped > 0) base.drops.inc({ reason }, dropped);
    client.log.warn(
      { reason, dropped, user: client.principal.name },
      'client closed with 1013: it can resume with since',
    );
    this.detach(client);
  }

  /** Puts a subscription in the index (live or replaying). */
  addToIndex(client: Client, sub: Subscription): void {
    if (!this.index.add(sub.pattern, client)) return;
    this.patterns.set(sub.pattern, (this.patterns.get(sub.pattern) ?? 0) + 1);
    this.gauges();
  }

  /** Takes a subscription out of the index, if it was there. */
  removeFromIndex(client: Client, sub: Subscription): void {
    if (!this.index.remove(sub.pattern, client)) return;
    const left = (this.patterns.get(sub.pattern) ?? 1) - 1;
    if (left === 0) this.patterns.delete(sub.pattern);
    else this.patterns.set(sub.pattern, left);
    this.gauges();
  }

  private gauges(): void {
    this.metrics.subscriptions.set(this.index.size);
    this.metrics.topics.set(this.patterns.size);
    this.onChange();
  }

  /** Is `m` already delivered (or to be delivered live) through another live subscription? */
  covered(client: Client, m: QueueMessage): boolean {
    for (const s of client.subs.values()) {
      if (s.state === 'live' && s.from < m.seq && matchesPattern(s.pattern, m.topic)) return true;
    }
    return false;
  }

  /** Sends what was held during a replay and is still wanted. */
  flushHeld(client: Client): void {
    const held = client.held;
    client.held = [];
    let sent = 0;
    for (const m of held) {
      if (client.gone) break;
      if (wantsLive(client, m) && client.send(encodeFor(client, m))) sent++;
    }
    if (sent > 0) this.metrics.delivered.inc({ protocol: client.mode }, sent);
  }

  /** Hands one message to every matching socket, each once. Never waits. */
  fanOut(m: QueueMessage, now: number): void {
    if (this.lastDelivered === 0) this.fixPending(m.seq - 1);
    this.lastDelivered = m.seq;
    // Cached per topic; a kick below changes the index but not this list (see matchList).
    const matched = this.index.matchList(m.topic);
    if (matched.length === 0) return;
    let v1: WireFrame | undefined;
    let legacy: WireFrame | undefined;
    let reached = false;
    for (let i = 0; i < matched.length; i++) {
      const c = matched[i]!;
      if (c.replaying) {
        c.hold(m);
        continue;
      }
      if (m.seq <= c.liveAfterMax && !wantsLive(c, m)) continue;
      if (c.mode === 'v1') {
        v1 ??= msgFrame(m.topic, m.seq, m.data, m.ts);
        if (!c.deliver(v1)) continue;
        this.v1Sent++;
      } else {
        legacy ??= legacyFrame(m.topic, m.data);
        if (!c.deliver(legacy)) continue;
        this.legacySent++;
      }
      if (c.pendingFrames === 1) this.touched.push(c);
      reached = true;
    }
    if (reached) this.metrics.latency.observe(Math.max(0, now - m.ts) / 1000);
  }

  /**
   * Each socket that collected frames since the last call writes them all at once. The
   * Fanout calls this at the end of each event-loop turn; a reply, replay or close on a
   * client writes its collected frames first (Client.flush).
   */
  flushWrites(): void {
    const touched = this.touched;
    for (let i = 0; i < touched.length; i++) touched[i]!.flush(this.shared);
    touched.length = 0;
    this.shared.clear();
  }

  /** Moves the per-message counts into the metrics (once per chunk, not per send). */
  flushCounters(): void {
    if (this.v1Sent > 0) this.metrics.delivered.inc({ protocol: 'v1' }, this.v1Sent);
    if (this.legacySent > 0) this.metrics.delivered.inc({ protocol: 'legacy' }, this.legacySent);
    this.v1Sent = this.legacySent = 0;
    this.metrics.lastSeq.set(this.lastDelivered);
  }

  /**
   * Subscriptions made before the first live message could not know where live delivery
   * would start; now it is known: right before this batch.
   */
  private fixPending(from: number): void {
    for (const c of this.clients) {
      for (const s of c.subs.values()) if (s.from === PENDING_FROM) s.from = from;
    }
    this.log.debug({ from }, 'first live message from the msgqueue');
  }
}
