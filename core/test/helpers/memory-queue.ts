/**
 * A queue home in memory, for tests of one service's logic (publisher, subscriber): the
 * QueueHome interface of queue.ts and nothing of any wire. One log shared by the producers and
 * consumers it opens, dedupe by pid, durable cursors by consumer name, a window of
 * unacknowledged messages, range replays and retention (`firstSeq`), and the controls a test
 * needs to put a service in the situations the real homes put it in: appends held unanswered or
 * refused with a code, deliveries or replays held back, the queue going down and up.
 *
 * Its guarantees are the interface's: a producer's messages are journaled in offer order and
 * each `done` is called once; a consumer gets every message once, in seq order, at most
 * `window` unacknowledged. While the home is down, offers wait in the bounded outbox and
 * nothing is delivered or replayed.
 */
import { EventEmitter } from 'node:events';
import { ProtocolError, type FrameErrorCode } from '../../src/protocol/errors.js';
import { matchesPattern } from '../../src/protocol/topics.js';
import type {
  AppendDone,
  AppendRequest,
  ConsumerHooks,
  LinkState,
  ProducerHooks,
  QueueConsumer,
  QueueHome,
  QueueMessage,
  QueueProducer,
  ReplayResult,
} from '../../src/queue/queue.js';
import { untilChange } from './until.js';

export interface MemoryReplay {
  from: number;
  to: number;
  pattern: string | undefined;
  limit: number;
}

export interface HeldReplay extends MemoryReplay {
  resolve(r: ReplayResult): void;
  reject(e: Error): void;
}

export interface MemoryQueue extends QueueHome {
  /** Every journaled message, in seq order (retention does not remove them; see firstSeq). */
  readonly log: readonly QueueMessage[];
  /** Messages that reached the queue from a producer (journaled, held or refused). */
  readonly appends: number;
  /** Messages held unanswered now (see holdAppends). */
  readonly held: number;
  /** While true, appends reach the queue but wait unanswered; release() journals them. */
  holdAppends: boolean;
  /** When set, every append is refused with this code. */
  failAppends: FrameErrorCode | undefined;
  /** While true, journaled messages wait for releaseDeliveries() before any consumer gets them. */
  holdDeliveries: boolean;
  /** While true, replays wait in `heldReplays` until answer() or reject. */
  holdReplays: boolean;
  /** When set, every replay and seqAtTime rejects with it (an unexpected failure, or a ProtocolError). */
  failReplays: Error | undefined;
  readonly heldReplays: HeldReplay[];
  /** Every replay asked for, in order. */
  readonly replays: readonly MemoryReplay[];
  /** Every ack a consumer made, in order. */
  readonly acks: readonly number[];
  /** Oldest retained seq; raise it to simulate retention (replay and consume start there). */
  firstSeq: number;
  readonly state: LinkState;
  /** Producers and consumers opened and not closed. */
  readonly open: number;
  /** The durable (acknowledged) cursor of a consumer name; 0 when it never acked. */
  cursor(name: string): number;
  /** Messages handed to consumers and not yet acknowledged, summed. */
  readonly outstanding: number;
  /** Journals a message as a producer would (without dedupe), accepted at `ts`; returns its seq. */
  push(topic: string, data: string, ts?: number): number;
  /** Journals and answers every held append; stops holding unless `keepHolding`. */
  release(o?: { keepHolding?: boolean }): void;
  /** Stops holding deliveries and delivers what waited. */
  releaseDeliveries(): void;
  /** Answers a held replay from the log. */
  answer(replay: HeldReplay): void;
  /** The queue becomes unreachable: every side goes `state` ('down' unless given), held appends go back to their outbox. */
  down(detail?: string, state?: 'down' | 'connecting'): void;
  /** The queue is back: waiting appends are journaled, deliveries resume. */
  up(): void;
  /** 'change' is emitted after anything happened; waitFor re-checks on it. */
  readonly events: EventEmitter;
  waitFor(predicate: () => boolean): Promise<void>;
}

interface Entry {
  msg: AppendRequest;
  pid: string;
  bytes: number;
  acceptedAt: number;
  done: AppendDone<unknown>;
  ctx: unknown;
}

interface Held {
  entry: Entry;
  settle(e: Entry, seq: number | ProtocolError): void;
  /** Puts entries back at the front of their producer's outbox, in order. */
  requeue(entries: Entry[]): void;
  /** Tells the producer's hooks its new depth, once per batch settled. */
  depthChanged(): void;
}

interface Side {
  setState(state: LinkState, detail?: string): void;
  wake(): void;
}

const OUTBOX_FULL = new ProtocolError('UNAVAILABLE', 'the queue outbox is full');
const CLOSED = new ProtocolError('UNAVAILABLE', 'the queue producer is closed');

export function createMemoryQueue(o: { holdAppends?: boolean } = {}): MemoryQueue {
  const events = new EventEmitter();
  const log: QueueMessage[] = [];
  const pids = new Map<string, number>();
  const cursors = new Map<string, number>();
  const sides = new Set<Side>();
  const unackedOf = new Map<Side, number[]>();
  const replays: MemoryReplay[] = [];
  const acks: number[] = [];
  const heldReplays: HeldReplay[] = [];
  /** Appends that reached the queue and wait unanswered, with the producer that sent them. */
  let held: Held[] = [];
  let appends = 0;
  let state: LinkState = 'up';
  let firstSeq = 1;
  let deliverable = 0;
  let producers = 0;
  let holdDeliveries = false;
  const cursor = (name: string): number => cursors.get(name) ?? 0;
  const changed = (): void => void events.emit('change');
  const lastSeq = (): number => log[log.length - 1]?.seq ?? firstSeq - 1;

  function journal(msg: { topic: string; data: string; ts: number }, pid?: string): number {
    if (pid !== undefined) {
      const seen = pids.get(pid);
      if (seen !== undefined) return seen;
    }
    const seq = Math.max(lastSeq() + 1, firstSeq);
    if (pid !== undefined) pids.set(pid, seq);
    log.push({ seq, topic: msg.topic, data: msg.data, ts: msg.ts });
    if (!holdDeliveries) deliverable = seq;
    return seq;
  }

  function wakeAll(): void {
    for (const s of sides) s.wake();
    changed();
  }

  /** Index of the first logged message with seq >= `seq`. */
  function indexOf(seq: number): number {
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (log[mid]!.seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function answer(p: HeldReplay): void {
    const msgs: QueueMessage[] = [];
    let more = false;
    let next = p.to + 1;
    for (let i = indexOf(Math.max(p.from, firstSeq)); i < log.length && log[i]!.seq <= p.to; i++) {
      const m = log[i]!;
      if (p.pattern !== undefined && !matchesPattern(p.pattern, m.topic)) continue;
      if (msgs.length === p.limit) {
        more = true;
        next = m.seq;
        break;
      }
      msgs.push(m);
    }
    p.resolve({ messages: msgs, firstSeq, more, next });
  }

  function producer(hooks: ProducerHooks): QueueProducer {
    let outbox: Entry[] = [];
    let depth = 0;
    let bytes = 0;
    let closed = false;
    let sideState: LinkState = 'up';
    let counter = 0;
    let scheduled: NodeJS.Immediate | undefined;
    const name = `memory-producer-${++producers}`;

    function settle(e: Entry, seq: number | ProtocolError): void {
      depth--;
      bytes -= e.bytes;
      if (typeof seq === 'number') {
        hooks.onJournaled?.(e.acceptedAt, performance.now());
        e.done(e.ctx, undefined, seq);
      } else {
        e.done(e.ctx, seq, 0);
      }
    }

    /** Hands the outbox to the queue, as one batch, on a later turn (a queue answers later). */
    function flush(): void {
      scheduled = undefined;
      if (state !== 'up' || closed || outbox.length === 0) return;
      const batch = outbox;
      outbox = [];
      appends += batch.length;
      for (const e of batch) {
        if (failAppends) {
          settle(e, new ProtocolError(failAppends, 'the memory queue refuses appends'));
        } else if (holdAppends) {
          held.push({ entry: e, settle, requeue, depthChanged });
        } else {
          settle(e, journal(e.msg, e.pid));
        }
      }
      hooks.onDepth?.(depth, bytes);
      wakeAll();
    }

    function depthChanged(): void {
      hooks.onDepth?.(depth, bytes);
    }

    function requeue(entries: Entry[]): void {
      outbox = entries.concat(outbox);
    }

    const side: Side = {
      setState(next, detail) {
        if (closed) return;
        sideState = next;
        hooks.onState?.(next, detail);
      },
      wake() {
        if (outbox.length > 0) scheduled ??= setImmediate(flush);
      },
    };
    sides.add(side);
    process.nextTick(() => side.setState(state));

    function offer<C>(msg: AppendRequest, done: AppendDone<C>, ctx: C): ProtocolError | undefined {
      if (closed) return CLOSED;
      const pid = msg.pid ?? `${name}:${counter++}`;
      const size = Buffer.byteLength(msg.data) + msg.topic.length + (msg.pid === undefined ? 8 : msg.pid.length);
      if (depth >= hooks.outboxMessages || bytes + size > hooks.outboxBytes) return OUTBOX_FULL;
      outbox.push({ msg, pid, bytes: size, acceptedAt: performance.now(), done: done as AppendDone<unknown>, ctx });
      depth++;
      bytes += size;
      hooks.onDepth?.(depth, bytes);
      side.wake();
      return undefined;
    }

    return {
      get state() {
        return closed ? 'closed' : sideState;
      },
      get outboxDepth() {
        return depth;
      },
      offer,
      append(msg) {
        return new Promise<number>((resolve, reject) => {
          const refused = offer(msg, (_ctx, err, seq) => (err ? reject(err) : resolve(seq)), undefined);
          if (refused) reject(refused);
        });
      },
      async close() {
        if (closed) return;
        if (scheduled) clearImmediate(scheduled);
        const err = new ProtocolError('UNAVAILABLE', 'the queue producer closed before the queue took the message');
        const mine = held.filter((h) => h.requeue === requeue);
        held = held.filter((h) => h.requeue !== requeue);
        for (const h of mine) settle(h.entry, err);
        for (const e of outbox) settle(e, err);
        depthChanged();
        outbox = [];
        side.setState('closed');
        closed = true;
        sides.delete(side);
        changed();
      },
    };
  }

  function consumer(hooks: ConsumerHooks): QueueConsumer {
    let onMessages: ((batch: QueueMessage[]) => void) | undefined;
    let closed = false;
    let sideState: LinkState = 'up';
    let next = 0;
    let told = 0;
    let scheduled: NodeJS.Immediate | undefined;
    const unacked: number[] = [];

    /** Hands the next batch (at most the window's free room) on a later turn. */
    function pump(): void {
      scheduled = undefined;
      if (!onMessages || closed || state !== 'up') return;
      const batch: QueueMessage[] = [];
      for (
        let i = indexOf(Math.max(next, firstSeq));
        i < log.length && log[i]!.seq <= deliverable && unacked.length + batch.length < hooks.window;
        i++
      ) {
        batch.push(log[i]!);
      }
      if (batch.length === 0) return;
      next = batch[batch.length - 1]!.seq + 1;
      if (next - 1 > told) told = next - 1;
      for (const m of batch) unacked.push(m.seq);
      onMessages(batch);
      changed();
    }

    const side: Side = {
      setState(s, detail) {
        if (closed) return;
        sideState = s;
        hooks.onState?.(s, detail);
      },
      wake() {
        if (lastSeq() > told) told = lastSeq();
        scheduled ??= setImmediate(pump);
      },
    };
    unackedOf.set(side, unacked);

    return {
      get state() {
        return closed ? 'closed' : sideState;
      },
      get lastSeq() {
        return told;
      },
      start(cb) {
        if (onMessages) throw new Error('queue consumer already started');
        onMessages = cb;
        next = Math.max(cursor(hooks.name) + 1, firstSeq);
        told = lastSeq();
        sides.add(side);
        process.nextTick(() => side.setState(state));
        side.wake();
      },
      ack(seq) {
        acks.push(seq);
        cursors.set(hooks.name, Math.max(cursor(hooks.name), seq));
        while (unacked.length > 0 && unacked[0]! <= seq) unacked.shift();
        side.wake();
        changed();
      },
      seqAtTime(ms) {
        if (closed || state !== 'up') {
          return Promise.reject(new ProtocolError('UNAVAILABLE', 'the memory queue is down'));
        }
        if (failReplays) return Promise.reject(failReplays);
        const hit = log.find((m) => m.seq >= firstSeq && m.ts >= ms);
        return Promise.resolve(hit ? hit.seq : lastSeq() + 1);
      },
      replay(from, to, pattern, limit) {
        if (failReplays) return Promise.reject(failReplays);
        if (closed || state !== 'up') {
          return Promise.reject(new ProtocolError('UNAVAILABLE', 'the memory queue is down'));
        }
        const asked = { from, to, pattern, limit };
        replays.push(asked);
        return new Promise<ReplayResult>((resolve, reject) => {
          const p = { ...asked, resolve, reject };
          if (holdReplays) heldReplays.push(p);
          else setImmediate(() => answer(p));
          changed();
        });
      },
      async close() {
        if (closed) return;
        if (scheduled) clearImmediate(scheduled);
        side.setState('closed');
        closed = true;
        sides.delete(side);
        unackedOf.delete(side);
        changed();
      },
    };
  }

  let holdAppends = o.holdAppends ?? false;
  let failAppends: FrameErrorCode | undefined;
  let holdReplays = false;
  let failReplays: Error | undefined;

  return {
    where: 'memory',
    producer,
    consumer,
    log,
    events,
    replays,
    acks,
    heldReplays,
    cursor,
    answer,
    get appends() {
      return appends;
    },
    get held() {
      return held.length;
    },
    get holdAppends() {
      return holdAppends;
    },
    set holdAppends(v: boolean) {
      holdAppends = v;
    },
    get failAppends() {
      return failAppends;
    },
    set failAppends(v: FrameErrorCode | undefined) {
      failAppends = v;
    },
    get holdDeliveries() {
      return holdDeliveries;
    },
    set holdDeliveries(v: boolean) {
      if (v) holdDeliveries = true;
      else this.releaseDeliveries();
    },
    get failReplays() {
      return failReplays;
    },
    set failReplays(v: Error | undefined) {
      failReplays = v;
    },
    get holdReplays() {
      return holdReplays;
    },
    set holdReplays(v: boolean) {
      holdReplays = v;
    },
    get firstSeq() {
      return firstSeq;
    },
    set firstSeq(v: number) {
      firstSeq = v;
      changed();
    },
    get state() {
      return state;
    },
    get open() {
      return sides.size;
    },
    get outstanding() {
      let n = 0;
      for (const u of unackedOf.values()) n += u.length;
      return n;
    },
    push(topic, data, ts = Date.now()) {
      const seq = journal({ topic, data, ts });
      wakeAll();
      return seq;
    },
    release(o = {}) {
      holdAppends = o.keepHolding ?? false;
      const now = held;
      held = [];
      for (const h of now) h.settle(h.entry, journal(h.entry.msg, h.entry.pid));
      for (const depthChanged of new Set(now.map((h) => h.depthChanged))) depthChanged();
      wakeAll();
    },
    releaseDeliveries() {
      holdDeliveries = false;
      deliverable = lastSeq();
      wakeAll();
    },
    down(detail = 'the memory queue went down', to = 'down') {
      state = to;
      // What was held unanswered goes back to its producer's outbox, to be sent again (and deduped).
      const back = new Map<Held['requeue'], Entry[]>();
      for (const h of held) back.set(h.requeue, [...(back.get(h.requeue) ?? []), h.entry]);
      held = [];
      for (const [requeue, entries] of back) requeue(entries);
      for (const s of sides) s.setState(to, detail);
      changed();
    },
    up() {
      state = 'up';
      for (const s of sides) s.setState('up');
      wakeAll();
    },
    waitFor: (predicate) => untilChange(events, predicate),
  };
}
