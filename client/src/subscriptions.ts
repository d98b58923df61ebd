/**
 * The subscriber side of a client: its subscriptions by pattern, the `sub`/`unsub` requests
 * on the wire, and the dispatch of each `msg` to every live subscription it matches. On every
 * (re)open each subscription is sent again with `since` = the last seq it delivered.
 */
import { WsqError } from './errors.js';
import { encodeSub, encodeUnsub, type ServerFrame } from './frames.js';
import { Subscription, type SubscriptionOwner } from './subscription.js';
import { isValidPattern, matchesPattern } from './topics.js';

export interface SubscribeOptions {
  /** Replay every retained matching message with a greater seq first (docs/protocol.md 2.3). */
  since?: number;
}

export interface SubscriptionsOptions {
  maxBufferedMessages: number;
  maxSubscriptions: number;
  send(text: string): boolean;
  /** Delay before asking again for a subscription the server answered UNAVAILABLE. */
  retryDelayMs(): number;
}

type Request = { kind: 'sub'; sub: Subscription } | { kind: 'unsub'; sub: Subscription | undefined; done(): void };

export class Subscriptions implements SubscriptionOwner {
  private readonly subs = new Map<string, Subscription>();
  private readonly requests = new Map<string, Request>();
  private readonly retries = new Map<Subscription, ReturnType<typeof setTimeout>>();
  private nextId = 1;
  private closedWith: WsqError | undefined;

  constructor(private readonly o: SubscriptionsOptions) {}

  get size(): number {
    return this.subs.size;
  }

  subscribe(pattern: string, opts: SubscribeOptions = {}): Subscription {
    if (this.closedWith) throw this.closedWith;
    if (!isValidPattern(pattern)) throw new WsqError('BAD_TOPIC', `not a pattern: ${JSON.stringify(pattern)}`);
    const since = opts.since;
    if (since !== undefined && !(Number.isSafeInteger(since) && since >= 0)) {
      throw new WsqError('BAD_ARGUMENT', 'since must be a non-negative integer');
    }
    if (this.subs.has(pattern)) {
      throw new WsqError('DUPLICATE_SUBSCRIPTION', `already subscribed to ${pattern}: use that subscription`);
    }
    if (this.subs.size >= this.o.maxSubscriptions) {
      throw new WsqError('LIMIT_EXCEEDED', `at most ${this.o.maxSubscriptions} subscriptions per client`);
    }
    const sub = new Subscription(pattern, since, this, this.o.maxBufferedMessages);
    this.subs.set(pattern, sub);
    this.request(sub);
    return sub;
  }

  /** Sends `sub` with the subscription's position; on an open connection, or at the next open. */
  private request(sub: Subscription): void {
    sub.wire = 'pending';
    for (const [id, r] of this.requests) if (r.kind === 'sub' && r.sub === sub) this.requests.delete(id);
    const id = `s${this.nextId++}`;
    if (this.o.send(encodeSub(sub.pattern, id, sub.position))) this.requests.set(id, { kind: 'sub', sub });
  }

  /** The subscriber connection (re)opened: every request in flight is void, send them all again. */
  resubscribe(): void {
    this.requests.clear();
    for (const sub of this.subs.values()) {
      const t = this.retries.get(sub);
      if (t !== undefined) clearTimeout(t);
      this.retries.delete(sub);
      this.request(sub);
    }
  }

  /** The connection dropped: nothing is live until it opens again. */
  suspend(): void {
    for (const sub of this.subs.values()) sub.wire = 'pending';
    for (const [id, r] of this.requests) {
      if (r.kind === 'unsub') r.done(); // the server forgets subscriptions with the connection
      this.requests.delete(id);
    }
  }

  resync(sub: Subscription): void {
    if (this.subs.get(sub.pattern) !== sub) return;
    // Drop the server's subscription and ask again from the last buffered seq; nothing in
    // between is accepted (the sub is pending) until the new `subscribed`.
    sub.wire = 'pending';
    const id = `u${this.nextId++}`;
    this.o.send(encodeUnsub(sub.pattern, id));
    this.request(sub);
  }

  unsubscribe(sub: Subscription): Promise<void> {
    if (this.subs.get(sub.pattern) !== sub) return Promise.resolve();
    this.subs.delete(sub.pattern);
    const t = this.retries.get(sub);
    if (t !== undefined) clearTimeout(t);
    this.retries.delete(sub);
    sub.end();
    return new Promise((resolve) => {
      const id = `u${this.nextId++}`;
      if (this.o.send(encodeUnsub(sub.pattern, id))) this.requests.set(id, { kind: 'unsub', sub, done: resolve });
      else resolve();
    });
  }

  onFrame(frame: ServerFrame): boolean {
    switch (frame.op) {
      case 'msg': {
        const m = { topic: frame.topic, seq: frame.seq, data: frame.data, ts: frame.ts };
        for (const sub of this.subs.values()) if (matchesPattern(sub.pattern, m.topic)) sub.deliver(m);
        return true;
      }
      case 'subscribed': {
        const r = frame.id === undefined ? undefined : this.requests.get(frame.id);
        if (!r || r.kind !== 'sub') return false;
        this.requests.delete(frame.id!);
        const { sub } = r;
        if (sub.position !== undefined && !frame.recovered) {
          sub.gap({ pattern: sub.pattern, since: sub.position, seq: frame.seq });
        }
        // Without `since`, the subscription starts at the log's current end: resume from there.
        sub.position ??= frame.seq;
        sub.wire = 'live';
        sub.confirmed({ seq: frame.seq, recovered: frame.recovered });
        return true;
      }
      case 'unsubscribed': {
        const r = frame.id === undefined ? undefined : this.requests.get(frame.id);
        if (!r || r.kind !== 'unsub') return frame.id?.startsWith('u') === true;
        this.requests.delete(frame.id!);
        r.done();
        return true;
      }
      case 'error': {
        const r = frame.id === undefined ? undefined : this.requests.get(frame.id);
        if (!r) return false;
        this.requests.delete(frame.id!);
        if (r.kind === 'unsub') {
          r.done();
          return true;
        }
        const { sub } = r;
        if (frame.code === 'UNAVAILABLE' || frame.code === 'RATE_LIMITED') {
          // The subscriber is not linked to the msgqueue yet (e.g. just restarted): ask again.
          this.retries.set(
            sub,
            setTimeout(() => {
              this.retries.delete(sub);
              if (this.subs.get(sub.pattern) === sub) this.request(sub);
            }, this.o.retryDelayMs()),
          );
          return true;
        }
        this.subs.delete(sub.pattern);
        sub.end(new WsqError(frame.code, `subscriber: ${frame.code}: ${frame.message}`, { endpoint: 'subscriber' }));
        return true;
      }
      case 'ack':
        return false;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  /** Ends every subscription (with `err` when the client failed) and refuses new ones. */
  close(err?: WsqError): void {
    this.closedWith ??= err ?? new WsqError('CLOSED', 'the client is closed');
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    for (const r of this.requests.values()) if (r.kind === 'unsub') r.done();
    this.requests.clear();
    for (const sub of this.subs.values()) sub.end(err);
    this.subs.clear();
  }
}
