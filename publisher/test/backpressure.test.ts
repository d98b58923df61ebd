/** Backpressure: above the outbox's high-water mark, with the link up, publishing sockets stop being read. */
import t from 'tap';
import { createMemoryQueue, until } from '@wsq/core/testing';
import type { WebSocket } from 'ws';
import { createBackpressure, HIGH_WATER_MAX_MESSAGES, waterMarks } from '../src/backpressure.js';
import { metric, metricValue, startPublisher } from './helpers.js';

/** Re-checks a condition that has no event of its own (a metric, bufferedAmount) every few ms. */
const poll = (recheck: () => void) => {
  const timer = setInterval(recheck, 5);
  return () => clearInterval(timer);
};

t.test('the marks are half and a quarter of the outbox limits, low always below high', async (t) => {
  t.same(waterMarks(4000, 8 << 20), {
    highMessages: 2000,
    highBytes: 4 << 20,
    lowMessages: 1000,
    lowBytes: 2 << 20,
  });
  t.same(waterMarks(1, 1024), { highMessages: 1, highBytes: 512, lowMessages: 0, lowBytes: 256 });
  t.same(waterMarks(3, 1024), { highMessages: 1, highBytes: 512, lowMessages: 0, lowBytes: 256 });
});

t.test('the message marks stop growing at HIGH_WATER_MAX_MESSAGES, the byte marks do not', async (t) => {
  t.equal(HIGH_WATER_MAX_MESSAGES, 2048);
  t.same(waterMarks(10_000, 8 << 20), {
    highMessages: 2048,
    highBytes: 4 << 20,
    lowMessages: 1024,
    lowBytes: 2 << 20,
  });
  t.same(waterMarks(4097, 64 << 20), {
    highMessages: 2048,
    highBytes: 32 << 20,
    lowMessages: 1024,
    lowBytes: 16 << 20,
  });
});

t.test('pauses only while the link is up; link down and stop() resume everyone', async (t) => {
  const fake = () => {
    const ws = { isPaused: false, pause: () => (ws.isPaused = true), resume: () => (ws.isPaused = false) };
    return ws;
  };
  let pauses = 0;
  const bp = createBackpressure(waterMarks(100, 1 << 20), { onPause: () => pauses++ });
  const a = fake();
  const b = fake();
  const as = (w: ReturnType<typeof fake>) => w as unknown as WebSocket;
  bp.onDepth(60, 100);
  bp.published(as(a));
  t.equal(a.isPaused, false, 'link not up: the outbox and its refusals apply instead');
  bp.setLinkUp(true);
  bp.published(as(a));
  bp.published(as(b));
  bp.published(as(b));
  t.same([a.isPaused, b.isPaused, pauses, bp.paused], [true, true, 2, 2], 'each socket paused once');
  bp.onDepth(30, 100);
  t.equal(a.isPaused, true, 'between the marks: still paused');
  bp.onDepth(25, 100);
  t.same([a.isPaused, b.isPaused, bp.paused], [false, false, 0], 'at low water all resume');
  bp.published(as(a));
  t.equal(a.isPaused, false, 'below high water again: no pause');
  bp.onDepth(50, 100);
  bp.published(as(a));
  t.equal(a.isPaused, true);
  bp.setLinkUp(false);
  t.equal(a.isPaused, false, 'link down resumes');
  bp.setLinkUp(true);
  bp.published(as(b));
  bp.forget(as(b));
  t.equal(bp.paused, 0, 'a closed socket is forgotten');
  bp.published(as(a));
  bp.stop();
  t.equal(a.isPaused, false, 'stop resumes');
  bp.published(as(a));
  t.equal(a.isPaused, false, 'and pauses no more');
});

t.test('a fast publisher against a slow queue is paused, not refused, and every message is acked', async (t) => {
  const queue = createMemoryQueue({ holdAppends: true });
  const p = await startPublisher(t, queue, {
    outboxMessages: 100,
    publishRatePerSec: 1_000_000,
    publishBurst: 1_000_000,
  });
  await p.waitState('up');
  const pauses = () => metricValue(metric(p.metrics, 'wsq_publisher_backpressure_pauses_total'));
  const received = () => metricValue(metric(p.metrics, 'wsq_publisher_received_total'), { protocol: 'v1' });
  const { ws, r } = await p.client(t);
  // 1 000 frames of 16 KiB: far more than the kernel's socket buffers hold.
  const n = 1000;
  const data = JSON.stringify('x'.repeat(16 * 1024));
  for (let i = 0; i < n; i++) ws.send(`{"op":"pub","topic":"news","data":${data},"id":"${i}"}`);
  let paused = 0;
  await until(
    () => paused === 1,
    (recheck) => poll(() => void pauses().then((v) => ((paused = v), recheck()))),
  );
  const readWhenPaused = await received();
  t.ok(readWhenPaused >= 50 && readWhenPaused < 100, `read ${readWhenPaused}: past high water, within the outbox`);

  // A second publisher's frame is read after the first socket's backlog was sent: still nothing more from the first.
  const other = await p.client(t);
  other.ws.send('{"op":"pub","topic":"news","data":"late","id":"late"}');
  let got = 0;
  await until(
    () => got === readWhenPaused + 1,
    (recheck) => poll(() => void received().then((v) => ((got = v), recheck()))),
  );
  t.equal(await pauses(), 2, 'the second publisher is paused too');
  t.ok(ws.bufferedAmount > 0, 'the client could not hand everything to TCP');
  t.equal(queue.log.length, 0, 'the queue journaled nothing yet');
  t.equal(r.pending, 0, 'no error frame (no UNAVAILABLE)');

  queue.release();
  const acks = new Set<string>();
  const ops = new Set<unknown>();
  for (let i = 0; i < n; i++) {
    const f = await r.json();
    ops.add(f.op);
    acks.add(String(f.id));
  }
  t.same([...ops], ['ack'], 'only acks');
  t.equal(acks.size, n, 'every message acked');
  t.match(await other.r.json(), { op: 'ack', id: 'late' });
  t.equal(queue.log.length, n + 1);
  t.equal(await metricValue(p.metrics.drops, { reason: 'outbox_full' }), 0, 'nothing dropped');
  t.equal(ws.bufferedAmount, 0);
});

t.test('with the link down the outbox fills and refuses, and nobody is paused', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue, { outboxMessages: 2 });
  await p.waitState('up');
  queue.down();
  await p.waitState('down');
  const { ws, r } = await p.client(t);
  for (const id of ['a', 'b', 'c']) ws.send(`{"op":"pub","topic":"news","data":"${id}","id":"${id}"}`);
  t.match(await r.json(), { op: 'error', id: 'c', code: 'UNAVAILABLE' }, 'past the outbox: UNAVAILABLE');
  t.equal(await metricValue(metric(p.metrics, 'wsq_publisher_backpressure_pauses_total')), 0);
  queue.up();
  t.same(
    [await r.json(), await r.json()],
    [
      { op: 'ack', id: 'a', seq: 1 },
      { op: 'ack', id: 'b', seq: 2 },
    ],
  );
});
