/**
 * One subscriber connection: its mode, its subscriptions, the live messages held while a
 * `since` replay runs, and a send that never waits. A socket whose unsent bytes are past
 * `maxBufferedBytes` when a frame is due is closed with 1013 at once, so a slow reader costs
 * the others nothing.
 */
import {
  CLOSE,
  rawSocketOf,
  type FrameErrorCode,
  type Logger,
  type Principal,
  type QueueMessage,
  type RawSocket,
} from '@wsq/core';
import type { Protocol } from './metrics.js';
import type { SharedConcat, WireFrame } from './wire.js';

/** The part of a `ws` WebSocket a client uses (tests pass fakes). */
export interface ClientSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  /** Negotiated extensions ('' for none); absent on fakes. */
  readonly extensions?: string;
  send(data: string, cb?: (err?: Error) => void): void;
  send(data: Buffer, options: { binary: boolean }, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

const OPEN = 1;
/** A peer that ignores our close frame is cut off after this long. */
const CLOSE_GRACE_MS = 2000;

/**
 * A subscription's life: `queued` (a `since` resume waiting for this connection's earlier
 * replay), `replaying` (in the index; live messages are held), `live`, then `removed`.
 */
export type SubState = 'queued' | 'replaying' | 'live' | 'removed';

export interface Subscription {
  readonly pattern: string;
  state: SubState;
  /**
   * Every matching message with seq > from has been, or will be, delivered through this
   * subscription. A replay skips what another subscription already covers.
   */
  from: number;
  /** Live messages with seq <= liveAfter are not delivered through it: its replay sent them. */
  liveAfter: number;
}

export interface ReplayJob {
  sub: Subscription;
  since: number;
  id: string | undefined;
}

export type KickReason = 'slow_consumer' | 'replay_buffer' | 'replay_failed';

export interface ClientLimits {
  maxBufferedBytes: number;
  maxReplayBufferMessages: number;
}

export class Client {
  readonly subs = new Map<string, Subscription>();
  /** `since` resumes waiting to run, one at a time per connection. */
  readonly jobs: ReplayJob[] = [];
  /** Live messages held while a replay runs, in seq order. */
  held: QueueMessage[] = [];
  /** True while a replay runs: live messages go to `held`. */
  replaying = false;
  /** The highest liveAfter of any subscription: live messages above it need no check. */
  liveAfterMax = 0;
  /** Closed, kicked or detached: nothing more is sent. */
  gone = false;
  /** Codes of the legacy frames ignored so far (each is logged at info once per connection). */
  readonly ignoredCodes = new Set<FrameErrorCode>();
  private closeTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly raw: RawSocket | undefined;
  /** Fan-out frames taken by `deliver`, written together by `flush` (raw sockets only). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    readonly ws: ClientSocket,
    readonly mode: Protocol,
    readonly principal: Principal,
    readonly log: Logger,
    private readonly limits: ClientLimits,
    /** Called once when the client is kicked (the router detaches it and counts). */
    private readonly onKick: (client: Client, reason: KickReason, dropped: number) => void,
  ) {
    this.raw = rawSocketOf(ws);
  }

  /**
   * Sends without waiting; false when the frame was not sent (gone, or kicked now). The limit
   * is checked before the send: bytes written in this event-loop turn count as unsent until
   * the TLS write completes, so a check after it would punish fast sockets for a burst
   * (fanout.ts bounds what one turn writes).
   */
  send(text: string): boolean {
    if (this.gone || this.ws.readyState !== OPEN) return false;
    this.flush();
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.kick('slow_consumer', 1);
      return false;
    }
    this.ws.send(text);
    return true;
  }

  /**
   * Takes a fan-out frame shared with other sockets, with the same limit check as `send`
   * (collected bytes count as unsent). On a raw socket the frame is collected and written by
   * `flush` with the rest of this event-loop turn: a TLS write costs about as much CPU
   * whatever its size, so one write per socket per turn instead of one per message.
   * Otherwise it goes through `ws.send` at once, without copy.
   */
  deliver(frame: WireFrame): boolean {
    if (this.gone || this.ws.readyState !== OPEN) return false;
    if (this.ws.bufferedAmount + this.pendingBytes > this.limits.maxBufferedBytes) {
      this.kick('slow_consumer', 1);
      return false;
    }
    if (this.raw === undefined) {
      this.ws.send(frame.payload, { binary: false });
    } else {
      this.pending.push(frame.bytes);
      this.pendingBytes += frame.bytes.length;
    }
    return true;
  }

  /** Frames collected by `deliver` and not yet written. */
  get pendingFrames(): number {
    return this.pending.length;
  }

  /**
   * Writes the collected frames in one write (shared with sockets that collected the same
   * ones). Every other send through this client (replies, replays, close) calls this first,
   * so messages keep their order on the wire. Pings and pongs that ws writes itself may come
   * before collected frames: control frames may go between whole messages.
   */
  flush(shared?: SharedConcat): void {
    const n = this.pending.length;
    if (n === 0) return;
    const frames = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    // Closing or closed (by ws itself, or the service): the frames would follow the close frame.
    if (this.gone || this.ws.readyState !== OPEN) return;
    if (n === 1) this.raw!.write(frames[0]!);
    else this.raw!.write(shared === undefined ? Buffer.concat(frames, bytes) : shared.join(frames, bytes));
  }

  /**
   * Sends for a replay: when more than half the byte limit is unsent, waits until this frame
   * is written, so a replay paces itself to the reader instead of tripping the limit.
   */
  sendPaced(text: string): Promise<boolean> {
    if (this.gone || this.ws.readyState !== OPEN) return Promise.resolve(false);
    this.flush();
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.kick('slow_consumer', 1);
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        this.waiters.delete(finish);
        resolve(!this.gone);
      };
      this.ws.send(text, finish);
      if (this.ws.bufferedAmount <= this.limits.maxBufferedBytes / 2) finish();
      else if (!done) this.waiters.add(finish);
    });
  }

  /** Holds a live message during a replay; past the bound the client must resume later. */
  hold(msg: QueueMessage): void {
    if (this.gone) return;
    if (this.held.length >= this.limits.maxReplayBufferMessages) {
      this.kick('replay_buffer', this.held.length + 1);
      return;
    }
    this.held.push(msg);
  }

  /** Closes with 1013 (retry with `since`); the peer gets CLOSE_GRACE_MS to read to the close frame. */
  kick(reason: KickReason, dropped: number): void {
    if (this.gone) return;
    this.close(CLOSE.TRY_AGAIN, reason === 'slow_consumer' ? 'slow consumer' : reason.replace('_', ' '));
    this.onKick(this, reason, dropped);
  }

  close(code: number, reason: string): void {
    if (this.gone) return;
    // Collected frames go first, as if written when collected (a slow reader's too: it was
    // sent them, like the frames of the turn written before it passed the limit).
    this.flush();
    this.detach();
    this.ws.close(code, reason);
    this.closeTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  /** Forgets everything; idempotent. The router removes the patterns from its index. */
  detach(): void {
    this.gone = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.held = [];
    this.jobs.length = 0;
    for (const w of [...this.waiters]) w();
  }

  /** The socket is closed for good. */
  closed(): void {
    clearTimeout(this.closeTimer);
    this.detach();
  }
}
