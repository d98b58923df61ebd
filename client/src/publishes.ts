/**
 * Publishes waiting for their ack. Every publish carries an id; those not yet acknowledged
 * are re-sent, in order and with the same ids, each time the publisher connection opens again,
 * and the server's dedupe window turns the re-sends into exactly-once. Bounded by `maxPending`;
 * each has an ack deadline.
 */
import { CLIENT_CODES, WsqError } from './errors.js';
import { encodePub, MAX_ID_LENGTH, type ServerFrame } from './frames.js';
import { isValidTopic } from './topics.js';

export interface PublishResult {
  /** The seq the msgqueue gave the message. */
  seq: number;
  /** The id it was published with. */
  id: string;
}

export interface PublishOptions {
  /** Your own idempotency id (1-128 characters); one is generated otherwise. */
  id?: string;
}

interface Pending {
  frame: string;
  resolve(r: PublishResult): void;
  reject(err: WsqError): void;
  deadline: ReturnType<typeof setTimeout>;
  retry: ReturnType<typeof setTimeout> | undefined;
}

export interface PublishesOptions {
  maxPending: number;
  ackTimeoutMs: number;
  /** Sends now if the connection is open; false otherwise. */
  send(text: string): boolean;
  /** Delay before re-sending a publish the server answered UNAVAILABLE (its outbox was full). */
  retryDelayMs(): number;
  /** A fresh id. */
  nextId(): string;
}

export class Publishes {
  private readonly pending = new Map<string, Pending>();
  private closedWith: WsqError | undefined;

  constructor(private readonly o: PublishesOptions) {}

  get size(): number {
    return this.pending.size;
  }

  publish(topic: string, data: unknown, opts: PublishOptions = {}): Promise<PublishResult> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (!isValidTopic(topic)) {
      return Promise.reject(new WsqError('BAD_TOPIC', `not a topic one can publish to: ${JSON.stringify(topic)}`));
    }
    const id = opts.id ?? this.o.nextId();
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
      return Promise.reject(new WsqError('BAD_ARGUMENT', `id must be a string of 1-${MAX_ID_LENGTH} characters`));
    }
    if (this.pending.has(id)) {
      return Promise.reject(new WsqError('BAD_ARGUMENT', `a publish with id ${id} is already waiting for its ack`));
    }
    if (this.pending.size >= this.o.maxPending) {
      return Promise.reject(
        new WsqError('MAX_PENDING', `${CLIENT_CODES.MAX_PENDING} (maxPending ${this.o.maxPending})`),
      );
    }
    let frame: string;
    try {
      frame = encodePub(topic, data, id);
    } catch (err) {
      return Promise.reject(err as WsqError);
    }
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        this.settle(id)?.reject(
          new WsqError('ACK_TIMEOUT', `${CLIENT_CODES.ACK_TIMEOUT} for ${id} (${this.o.ackTimeoutMs} ms)`),
        );
      }, this.o.ackTimeoutMs);
      this.pending.set(id, { frame, resolve, reject, deadline, retry: undefined });
      this.o.send(frame); // when not open, the next open sends it
    });
  }

  /** The connection (re)opened: send every unacknowledged publish, oldest first. */
  resend(): void {
    for (const p of this.pending.values()) {
      if (p.retry === undefined && !this.o.send(p.frame)) return;
    }
  }

  /** An ack or an error frame from the publisher. Returns false if no publish owns it. */
  onFrame(frame: ServerFrame): boolean {
    if (frame.op === 'ack') {
      this.settle(frame.id)?.resolve({ seq: frame.seq, id: frame.id });
      return true;
    }
    if (frame.op !== 'error' || frame.id === undefined) return false;
    const p = this.pending.get(frame.id);
    if (!p) return false;
    if (frame.code === 'UNAVAILABLE') {
      // The publisher's outbox is full while the msgqueue is away: try again later, same id.
      if (p.retry === undefined) {
        p.retry = setTimeout(() => {
          p.retry = undefined;
          this.o.send(p.frame);
        }, this.o.retryDelayMs());
      }
      return true;
    }
    this.settle(frame.id)?.reject(
      new WsqError(frame.code, `publisher: ${frame.code}: ${frame.message}`, { endpoint: 'publisher' }),
    );
    return true;
  }

  /** Fails every pending publish and refuses new ones. */
  close(err: WsqError): void {
    this.closedWith ??= err;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
  }

  private settle(id: string): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    clearTimeout(p.deadline);
    if (p.retry !== undefined) clearTimeout(p.retry);
    return p;
  }
}
