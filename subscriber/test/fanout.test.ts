/**
 * Fan-out writes to each socket once per I/O callback: every message fanned out in it that
 * the socket subscribed to, in seq order, in one write, whatever the number of messages or
 * link batches. The Router, Fanout and Client are the real ones; only the sockets under them
 * record their writes.
 */
import { createRequire } from 'node:module';
import t from 'tap';
import { createMetrics, type QueueMessage } from '@wsq/core';
import { logSink } from '@wsq/core/testing';
import { Client, type ClientSocket } from '../src/client.js';
import { Fanout } from '../src/fanout.js';
import { subscriberMetrics } from '../src/metrics.js';
import { Router } from '../src/router.js';

interface ReceiverLike extends NodeJS.WritableStream {
  on(event: 'message', listener: (data: Buffer) => void): this;
}
const { Receiver } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean }) => ReceiverLike;
};

/** A socket that keeps the frames of each raw write, decoded by a ws receiver. */
function recordingSocket(raw: Buffer[] = []) {
  const writes: string[][] = [];
  const ws = {
    readyState: 1,
    bufferedAmount: 0,
    extensions: '',
    send() {
      throw new Error('fan-out frames go to the raw socket');
    },
    close() {},
    terminate() {},
    _socket: {
      write(bytes: Buffer): boolean {
        const receiver = new Receiver({ isServer: false });
        const texts: string[] = [];
        receiver.on('message', (data) => texts.push(data.toString()));
        receiver.write(bytes);
        writes.push(texts);
        raw.push(bytes);
        return true;
      },
    },
  };
  return { ws: ws as ClientSocket, writes };
}

function setup(budgetBytes: number) {
  const { log } = logSink('t');
  const metrics = subscriberMetrics(createMetrics('subscriber', { defaultMetrics: false }));
  const router = new Router(metrics, log, () => 0);
  const acked: number[] = [];
  const fanout = new Fanout(router, {
    budgetBytes,
    maxBacklogMessages: 1000,
    onHandedOver: (seq) => acked.push(seq),
    metrics,
    log,
  });
  const principal = { name: 'u', publish: [], subscribe: ['>'] };
  const limits = { maxBufferedBytes: 1 << 20, maxReplayBufferMessages: 10 };
  /** Every buffer written to any socket, in order. */
  const raw: Buffer[] = [];
  function subscriber(mode: 'v1' | 'legacy', ...patterns: string[]) {
    const { ws, writes } = recordingSocket(raw);
    const client = new Client(ws, mode, principal, log, limits, (c, reason, dropped) =>
      router.onKick(c, reason, dropped),
    );
    router.attach(client);
    for (const pattern of patterns) {
      const sub = { pattern, state: 'live' as const, from: 0, liveAfter: 0 };
      client.subs.set(pattern, sub);
      router.addToIndex(client, sub);
    }
    return writes;
  }
  return { fanout, subscriber, acked, raw };
}

const msg = (seq: number, topic: string): QueueMessage => ({ seq, topic, data: String(seq), ts: 1 });
const seqsOf = (frames: string[]) => frames.map((f) => (JSON.parse(f) as { seq: number }).seq);
/** Resolves once the current callback and its nextTick queue are done. */
const callbackDone = () => new Promise((resolve) => setImmediate(resolve));

t.test('the messages of one callback reach each socket in one write, in order', async (t) => {
  const { fanout, subscriber, acked } = setup(1 << 20);
  const all = subscriber('v1', '>');
  const evens = subscriber('legacy', 'even');
  const none = subscriber('v1', 'other');
  // Two link batches read in one callback.
  fanout.enqueue([msg(1, 'odd'), msg(2, 'even'), msg(3, 'odd')]);
  fanout.enqueue([msg(4, 'even'), msg(5, 'odd')]);
  t.same(acked, [3, 5], 'both batches were handed over');
  t.same(all, [], 'nothing written before the callback ends');
  await callbackDone();
  t.equal(all.length, 1, 'one write for five messages');
  t.same(seqsOf(all[0]!), [1, 2, 3, 4, 5]);
  t.same(evens, [['{"Topic":"even","Content":"2"}', '{"Topic":"even","Content":"4"}']]);
  t.same(none, []);
  fanout.close();
});

t.test('each turn of a batch larger than the budget is one write per socket', async (t) => {
  // Each message counts data + topic + 64 bytes against the budget: two per turn.
  const { fanout, subscriber, acked } = setup(100);
  const writes = subscriber('v1', 'a');
  fanout.enqueue([1, 2, 3, 4, 5].map((seq) => msg(seq, 'a')));
  t.same(acked, [], 'not all handed over in the first turn');
  while (acked.length === 0) await callbackDone();
  await callbackDone();
  t.same(writes.map(seqsOf), [[1, 2], [3, 4], [5]]);
  t.same(acked, [5]);
  fanout.close();
});

t.test('closing the fan-out writes what was collected', async (t) => {
  const { fanout, subscriber } = setup(1 << 20);
  const writes = subscriber('v1', 'a');
  fanout.enqueue([msg(1, 'a'), msg(2, 'a')]);
  fanout.close();
  t.same(writes.map(seqsOf), [[1, 2]]);
});

t.test('sockets that collected the same frames in a turn share one buffer', async (t) => {
  const { fanout, subscriber, raw } = setup(1 << 20);
  const a = subscriber('v1', 'x');
  const b = subscriber('v1', '>');
  const c = subscriber('v1', 'x', 'y');
  const other = subscriber('v1', 'y');
  fanout.enqueue([msg(1, 'x'), msg(2, 'x'), msg(3, 'y')]);
  await callbackDone();
  t.same(
    [a, b, c, other].map((w) => w.map(seqsOf)),
    [[[1, 2]], [[1, 2, 3]], [[1, 2, 3]], [[3]]],
  );
  t.equal(raw.length, 4, 'one write per socket');
  t.equal(new Set(raw).size, 3, 'b and c wrote the same buffer');
  fanout.close();
});
