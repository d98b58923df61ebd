/** Legacy (ws-go) publishing: `{"Topic","Content"}` frames, no replies ever; refusals are counted. */
import t from 'tap';
import { createMemoryQueue, startLegacyMsgqueue, until } from '@wsq/core/testing';
import { metric, metricValue, startPublisher, usersFile } from './helpers.js';

const LEGACY = { protocol: '' };

t.test('full roundtrip: a ws-go frame lands in the queue as a JSON string', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  await p.waitState('up');
  const { ws } = await p.client(t, LEGACY);
  t.equal(ws.protocol, '');
  ws.send('{"Topic":"news","Content":"hello"}');
  await queue.waitFor(() => queue.log.length === 1);
  t.match(queue.log[0], { topic: 'news', data: '"hello"' });
  t.equal(await metricValue(metric(p.metrics, 'wsq_publisher_received_total'), { protocol: 'legacy' }), 1);
});

t.test('keys match case-insensitively, as Go decodes them', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  const { ws } = await p.client(t, LEGACY);
  ws.send('{"topic":"news","content":"lower"}');
  await queue.waitFor(() => queue.log.length === 1);
  t.match(queue.log[0], { topic: 'news', data: '"lower"' });
});

t.test('invalid, badly addressed and forbidden frames are ignored and counted, never answered', async (t) => {
  const queue = createMemoryQueue();
  const users = await usersFile(t, { carol: { password: 'pw-c', publish: ['chat.>'] } });
  const p = await startPublisher(t, queue, { users });
  const { ws, r } = await p.client(t, { protocol: '', user: 'carol', password: 'pw-c' });
  ws.send('not json');
  ws.send('{"Topic":1,"Content":"x"}');
  ws.send(Buffer.from('{"Topic":"chat.eu","Content":"x"}'), { binary: true });
  ws.send('{"Topic":"bad topic","Content":"x"}');
  ws.send('{"Topic":"news","Content":"not allowed"}');
  ws.send('{"Topic":"chat.eu","Content":"allowed"}');
  await queue.waitFor(() => queue.log.length === 1);
  t.same(
    queue.log.map((m) => m.data),
    ['"allowed"'],
    'only the valid frame went through',
  );
  t.equal(r.pending, 0, 'no reply of any kind');
  t.equal(r.closed, undefined, 'still open');
  const invalid = (code: string) => metricValue(p.metrics.framesInvalid, { path: '/publish', code });
  t.equal(await invalid('BAD_FRAME'), 3);
  t.equal(await invalid('BAD_TOPIC'), 1);
  t.equal(await invalid('FORBIDDEN'), 1);
});

t.test('an empty topic as the very first frame is ignored and counted, and the publisher serves on', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue);
  await p.waitState('up');
  const first = await p.client(t, LEGACY);
  first.ws.send('{"Topic":"","Content":"x"}');
  first.ws.send('{"Topic":"news","Content":"after"}');
  await queue.waitFor(() => queue.log.length === 1);
  t.same(
    queue.log.map((m) => m.data),
    ['"after"'],
  );
  t.equal(await metricValue(p.metrics.framesInvalid, { path: '/publish', code: 'BAD_TOPIC' }), 1);
  const other = await p.client(t, LEGACY);
  other.ws.send('{"topic":"","content":"y"}');
  other.ws.send('{"Topic":"news","Content":"still served"}');
  await queue.waitFor(() => queue.log.length === 2);
  t.equal(queue.log[1]!.data, '"still served"');
  t.equal(await metricValue(p.metrics.framesInvalid, { path: '/publish', code: 'BAD_TOPIC' }), 2);
  t.equal(first.r.closed, undefined, 'the first client is still connected');
});

t.test('rate-limited and outbox-full frames are dropped silently and counted', async (t) => {
  const queue = createMemoryQueue();
  const p = await startPublisher(t, queue, { outboxMessages: 1, publishRatePerSec: 1, publishBurst: 3 });
  await p.waitState('up');
  queue.down();
  await p.waitState('down');
  const { ws, r } = await p.client(t, LEGACY);
  for (const c of ['held', 'full', 'full again', 'over the rate']) ws.send(`{"Topic":"news","Content":"${c}"}`);
  const drops = (reason: string) => metricValue(p.metrics.drops, { reason });
  // Dropping leaves no frame to wait on: re-check the counters every few ms until all four were read.
  let counted = false;
  await until(
    () => counted,
    (recheck) => {
      const timer = setInterval(
        () =>
          void Promise.all([drops('outbox_full'), drops('rate_limited')]).then(([full, rate]) => {
            counted = full === 2 && rate === 1;
            recheck();
          }),
        5,
      );
      return () => clearInterval(timer);
    },
  );
  queue.up();
  await queue.waitFor(() => queue.log.length === 1);
  t.same(
    queue.log.map((m) => m.data),
    ['"held"'],
  );
  t.equal(await drops('outbox_full'), 2);
  t.equal(await drops('rate_limited'), 1);
  t.equal(r.pending, 0);
});

t.test('a legacy (ws-go) msgqueue still gets every message', async (t) => {
  const goQueue = await startLegacyMsgqueue(t);
  const p = await startPublisher(t, goQueue.url);
  await p.waitState('up');
  const legacy = await p.client(t, LEGACY);
  legacy.ws.send('{"Topic":"news","Content":"from legacy"}');
  await goQueue.waitFor(() => goQueue.received.length === 1);
  const v1 = await p.client(t);
  v1.ws.send('{"op":"pub","topic":"news","data":{"k":"v"},"id":"m"}');
  t.match(await v1.r.json(), { op: 'ack', id: 'm' }, 'acked once written to the socket (ws-go has no acks)');
  await goQueue.waitFor(() => goQueue.received.length === 2);
  t.same(
    goQueue.received.map((m) => [m.topic, m.data]),
    [
      ['news', '"from legacy"'],
      ['news', '"{\\"k\\":\\"v\\"}"'],
    ],
    'a non-string v1 payload travels as its JSON text in Content',
  );
});
