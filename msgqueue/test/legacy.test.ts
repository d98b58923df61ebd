import t from 'tap';
import { consumer, legacyClient, linkClient, metricValue, startQueue } from './helpers/queue.js';

t.test('legacy push and legacy pop carry ws-go frames unchanged', async (t) => {
  const q = await startQueue(t);
  const pop = await legacyClient(t, q, '/popmsg?name=go-sub');
  const push = await legacyClient(t, q, '/pushmsg');
  push.ws.send('{"Topic":"news","Content":"hello"}');
  push.ws.send('{"topic":"news","content":"lower-case keys, as Go decodes them"}');
  t.equal(await pop.reader.next(), '{"Topic":"news","Content":"hello"}');
  t.equal(await pop.reader.next(), '{"Topic":"news","Content":"lower-case keys, as Go decodes them"}');
});

t.test(
  'interop: legacy push reaches v1 consumers as a JSON string; v1 data reaches legacy pop as Content',
  async (t) => {
    const q = await startQueue(t);
    const v1 = await consumer(t, q, 'v1');
    const pop = await legacyClient(t, q, '/popmsg'); // default name: legacy
    const push = await legacyClient(t, q, '/pushmsg');
    push.ws.send('{"Topic":"news","Content":"hello"}');
    const [m] = await v1.c.receive(1);
    t.same({ seq: m.seq, topic: m.topic, data: m.data }, { seq: 1, topic: 'news', data: '"hello"' });
    t.equal(await pop.reader.next(), '{"Topic":"news","Content":"hello"}');

    const p = await linkClient(t, q, '/pushmsg');
    t.same(
      await p.append(1, [
        { topic: 'obj', data: '{"a":1}' },
        { topic: 'str', data: '"plain"' },
      ]),
      [2, 3],
    );
    t.equal(await pop.reader.next(), '{"Topic":"obj","Content":"{\\"a\\":1}"}');
    t.equal(await pop.reader.next(), '{"Topic":"str","Content":"plain"}');
  },
);

t.test('invalid legacy frames are ignored, counted and logged', async (t) => {
  const q = await startQueue(t);
  const pop = await legacyClient(t, q, '/popmsg?name=inv');
  const push = await legacyClient(t, q, '/pushmsg');
  push.ws.send('not json');
  push.ws.send('{"Topic":"bad topic","Content":"x"}');
  push.ws.send('{"Topic":42,"Content":"x"}');
  push.ws.send('{"Topic":"ok","Content":"kept"}');
  t.equal(await pop.reader.next(), '{"Topic":"ok","Content":"kept"}', 'only the valid frame is delivered');
  const text = await q.metricsText();
  t.equal(metricValue(text, 'wsq_invalid_frames_total', { path: '/pushmsg', code: 'BAD_FRAME' }), 2);
  t.equal(metricValue(text, 'wsq_invalid_frames_total', { path: '/pushmsg', code: 'BAD_TOPIC' }), 1);
  t.equal(metricValue(text, 'wsq_dropped_messages_total', { reason: 'legacy_invalid_frame' }), 3);
  t.ok(
    q.logs.lines().some((l) => l.msg === 'legacy frame ignored'),
    'logged',
  );
  t.equal(push.ws.readyState, push.ws.OPEN, 'the pusher stays connected');
});

t.test('a legacy consumer resumes after what was written to it; a second one with its name replaces it', async (t) => {
  const q = await startQueue(t);
  const p = await linkClient(t, q, '/pushmsg');
  await p.append(1, [
    { topic: 'a', data: '"1"' },
    { topic: 'a', data: '"2"' },
  ]);
  const first = await legacyClient(t, q, '/popmsg?name=resume');
  t.equal(await first.reader.next(), '{"Topic":"a","Content":"1"}');
  t.equal(await first.reader.next(), '{"Topic":"a","Content":"2"}');
  const second = await legacyClient(t, q, '/popmsg?name=resume');
  t.same(await first.reader.waitClose(), { code: 1008, reason: 'consumer replaced' });
  await p.append(2, [{ topic: 'a', data: '"3"' }]);
  t.equal(await second.reader.next(), '{"Topic":"a","Content":"3"}', 'nothing repeated, nothing skipped');
});

t.test('a legacy consumer that does not read is paused at maxBufferedBytes and resumes in order', async (t) => {
  const q = await startQueue(t, { maxBufferedBytes: 1024, maxPayloadBytes: 1024 * 1024 });
  const pop = await legacyClient(t, q, '/popmsg?name=slow');
  pop.ws.pause();
  const p = await linkClient(t, q, '/pushmsg');
  const content = 'y'.repeat(2000);
  const total = 3000;
  for (let f = 0; f < total / 100; f++) {
    await p.append(
      f,
      Array.from({ length: 100 }, (_, i) => ({ topic: 'big', data: JSON.stringify(`${f * 100 + i}:${content}`) })),
    );
  }
  pop.ws.resume();
  for (let i = 0; i < total; i++) {
    const frame = JSON.parse(await pop.reader.next()) as { Topic: string; Content: string };
    if (frame.Content !== `${i}:${content}`) return t.fail(`frame ${i} out of order: ${frame.Content.slice(0, 10)}`);
  }
  t.pass('all frames in order');
});
