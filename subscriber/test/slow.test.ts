/**
 * A client that stops reading is closed with 1013 once its unsent bytes pass
 * maxBufferedBytes, and a healthy client on the same topic receives every message meanwhile.
 */
import t from 'tap';
import { createMemoryQueue } from '@wsq/core/testing';
import { changed, connect, metricValue, startSubscriber, subscribe } from './helpers.js';

const PAYLOAD = JSON.stringify('x'.repeat(16 * 1024));
/** Far more than loopback socket buffers hold, so a reader that stopped must fall behind. */
const MAX_MESSAGES = 4000;
const BURST = 50;

t.test('a slow consumer is closed with 1013; a healthy one receives everything', async (t) => {
  const queue = createMemoryQueue();
  const s = await startSubscriber(t, queue, { maxBufferedBytes: 256 * 1024 });
  await s.waitLink('up');
  const slow = await connect(t, s, true);
  const healthy = await connect(t, s, false);
  await subscribe(slow, 'big');
  healthy.ws.send(JSON.stringify({ Topic: 'big', Content: 'sub' }));
  await changed(s.sub, () => s.sub.stats().subscriptions === 2);
  slow.ws.pause(); // stop reading: the kernel buffers fill, then the subscriber's unsent bytes grow

  let pushed = 0;
  let received = 0;
  while (s.sub.stats().connections === 2 && pushed < MAX_MESSAGES) {
    for (let i = 0; i < BURST; i++, pushed++) queue.push('big', PAYLOAD);
    for (; received < pushed; received++) {
      const frame = await healthy.r.next();
      if (frame !== `{"Topic":"big","Content":${PAYLOAD}}`) throw new Error('unexpected frame');
    }
  }
  t.equal(s.sub.stats().connections, 1, `the slow client was dropped after ${pushed} messages`);
  t.equal(received, pushed, 'the healthy client got every message');
  t.equal(await metricValue(s.metrics, 'wsq_closes_total', { reason: 'slow_consumer' }), 1);
  t.match(s.logs.text(), /"reason":"slow_consumer"/);

  slow.ws.resume();
  t.equal((await slow.r.waitClose()).code, 1013, 'it can resume with since');

  // Deliveries go on for the healthy one.
  queue.push('big', '"after"');
  t.equal(await healthy.r.next(), '{"Topic":"big","Content":"after"}');
});
