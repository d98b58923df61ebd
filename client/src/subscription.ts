/**
 * One subscription as the application sees it: an AsyncIterable of messages and an emitter
 * ('message', 'gap', 'error'). It remembers the seq of the last message it delivered, which the
 * client sends as `since` whenever it subscribes again (after a reconnect, or after a slow
 * iterator caught up), and drops anything at or below it, so nothing arrives twice.
 *
 * Messages wait in a bounded buffer only for an iterator (or while there is neither an
 * iterator nor a 'message' listener yet). When an iterator falls `maxBufferedMessages`
 * behind, further messages are not buffered; once it has drained the buffer the client
 * resubscribes from the last buffered seq, so a slow reader loses nothing and holds little.
 */
import { Emitter } from './emitter.js';
import { WsqError } from './errors.js';

export interface Message {
  topic: string;
  seq: number;
  data: unknown;
  /** When the publisher accepted it, in ms since the epoch. */
  ts: number;
}

export interface Gap {
  pattern: string;
  /** The seq resumed from: messages after it may be missing (retention deleted them). */
  since: number;
  /** The log's last seq when the subscription resumed. */
  seq: number;
}

/** The server confirmed the subscription (first, and again after every resume). */
export interface Subscribed {
  /** The log's last seq when it took effect. */
  seq: number;
  /** False when retention no longer reached back to the position resumed from (a 'gap' too). */
  recovered: boolean;
}

export type SubscriptionEvents = {
  message: [Message];
  subscribed: [Subscribed];
  gap: [Gap];
  error: [WsqError];
};

/** What a subscription asks of the client that owns it. */
export interface SubscriptionOwner {
  unsubscribe(sub: Subscription): Promise<void>;
  /** The buffer drained after an overflow: subscribe again from `position`. */
  resync(sub: Subscription): void;
}

/** Where a subscription stands with the server. */
export type WireState = 'pending' | 'live' | 'ended';

export class Subscription implements AsyncIterable<Message> {
  private readonly events = new Emitter<SubscriptionEvents>();
  private readonly buffer: Message[] = [];
  private waiter: { resolve(r: IteratorResult<Message>): void; reject(err: unknown): void } | undefined;
  private iterating = false;
  private endError: WsqError | undefined;
  /** Messages were dropped because the buffer was full; resync once it drained. */
  overflowed = false;
  wire: WireState = 'pending';
  /** The seq of the last message delivered (or the position subscribed at); undefined before. */
  position: number | undefined;

  constructor(
    readonly pattern: string,
    since: number | undefined,
    private readonly owner: SubscriptionOwner,
    private readonly maxBufferedMessages: number,
  ) {
    this.position = since;
  }

  on<K extends keyof SubscriptionEvents>(event: K, fn: (...args: SubscriptionEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  get ended(): boolean {
    return this.wire === 'ended';
  }

  /** Stops the subscription: the iterator ends after what it holds. */
  unsubscribe(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return this.owner.unsubscribe(this);
  }

  /** Offers a message; false when it is a duplicate or the subscription cannot take it now. */
  deliver(m: Message): boolean {
    if (this.wire !== 'live' || this.overflowed) return false;
    if (this.position !== undefined && m.seq <= this.position) return false;
    const buffering = this.iterating || this.events.count('message') === 0;
    if (buffering && this.waiter === undefined && this.buffer.length >= this.maxBufferedMessages) {
      this.overflowed = true; // not delivered: position stays, the resync brings it again
      return false;
    }
    this.position = m.seq;
    if (buffering) {
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w.resolve({ value: m, done: false });
      else this.buffer.push(m);
    }
    this.events.emit('message', m);
    return true;
  }

  confirmed(s: Subscribed): void {
    this.events.emit('subscribed', s);
  }

  gap(g: Gap): void {
    this.events.emit('gap', g);
  }

  /** The subscription is over: normally (unsubscribe, close) or with an error. */
  end(err?: WsqError): void {
    if (this.ended) return;
    this.wire = 'ended';
    this.endError = err;
    if (err) this.events.emit('error', err);
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      if (err) w.reject(err);
      else w.resolve({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    this.iterating = true;
    return {
      next: () => {
        const m = this.buffer.shift();
        if (m !== undefined) {
          if (this.buffer.length === 0 && this.overflowed && !this.ended) {
            this.overflowed = false;
            this.owner.resync(this);
          }
          return Promise.resolve({ value: m, done: false });
        }
        if (this.ended) {
          return this.endError ? Promise.reject(this.endError) : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
      },
      return: async () => {
        this.iterating = false;
        await this.unsubscribe();
        return { value: undefined, done: true };
      },
    };
  }
}
