/**
 * GET /v1/messages on a subscriber over an in-memory queue (deterministic replays and times): pages
 * and `next`, date ranges through seqAtTime, counts, refusals; and the event streams: history
 * then live, heartbeats, and the slow-client policy.
 */
import { request } from 'node:https';
import t from 'tap';
import { createMemoryQueue } from '@wsq/core/testing';
import { metricValue, startSubscriber, type Started } from './helpers.js';

const AUTH = 'Basic ' + Buffer.from('hello:test').toString('base64');

function get(s: Started, query: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = request(
        `${s.base}/v1/messages?${query}`,
        { ca: s.ca, agent: false, headers: { authorization: AUTH, ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    },
  );
}

const seqsOf = (body: Record<string, unknown>): number[] => (body.messages as { seq: number }[]).map((m) => m.seq);

t.test('pages in seq order, next continues, sparse patterns page through the scan', async (t) => {
  const q = createMemoryQueue();
  for (let i = 1; i <= 30; i++) q.push(i % 3 === 0 ? 'a.x' : 'b.x', String(i), 1_000 + i);
  const s = await startSubscriber(t, q, { replayBatchMessages: 2 });
  const first = await get(s, 'topic=a.*&limit=4');
  t.same(seqsOf(first.body), [3, 6, 9, 12]);
  t.equal(first.body.first, 1);
  const next = first.body.next as number;
  t.ok(next >= 12 && next < 15, `next (${next}): past the last message, before the next match`);
  const second = await get(s, `topic=a.*&limit=100&since=${next}`);
  t.same(seqsOf(second.body), [15, 18, 21, 24, 27, 30]);
  t.equal(second.body.next, null);
  t.same(
    (first.body.messages as unknown[])[0],
    { seq: 3, topic: 'a.x', data: 3, ts: 1_003 },
    'data is the JSON payload as published',
  );
  const count = await get(s, 'topic=b.*&count=1');
  t.same(count.body, { count: 20, first: 1 });
  q.firstSeq = 10;
  const cut = await get(s, 'topic=a.*&since=0');
  t.same(seqsOf(cut.body).slice(0, 2), [12, 15], 'retention cut: what is retained');
  t.equal(cut.body.first, 10);
});

t.test('date ranges start and end through seqAtTime; ts out of order stays in its range only', async (t) => {
  const q = createMemoryQueue();
  const ts = [100, 200, 150, 300, 250, 400];
  ts.forEach((at, i) => q.push('d', String(i + 1), at));
  const s = await startSubscriber(t, q, {});
  const iso = (ms: number): string => new Date(ms).toISOString();
  const range = await get(s, `topic=d&dateStart=${iso(200)}&dateEnd=${iso(300)}`);
  t.same(
    seqsOf(range.body),
    [2],
    'seqs 2-3 (the first at 200 to before the first at 300), ts in [200, 300): not seq 3 at 150',
  );
  const open = await get(s, `topic=d&dateStart=${iso(260)}`);
  t.same(seqsOf(open.body), [4, 6], 'seq 5 (ts 250) is before the start of the range');
  const counted = await get(s, `topic=d&dateStart=${iso(0)}&dateEnd=${iso(1000)}&count=1`);
  t.match(counted.body, { count: 6 });
});

t.test('refusals: parameters, permission, queue down, replays refused', async (t) => {
  const q = createMemoryQueue();
  q.push('a', '1');
  const s = await startSubscriber(t, q, {});
  const bad = await get(s, 'topic=a&limit=abc');
  t.match(bad, { status: 400, body: { error: { code: 'BAD_PARAMETER' } } });
  t.match((bad.body.error as { message: string }).message, /^limit:/);
  const sse = await get(s, 'topic=a&dateEnd=2026-01-01', { accept: 'text/event-stream' });
  t.match(sse, { status: 400, body: { error: { code: 'BAD_PARAMETER' } } });
  t.match((sse.body.error as { message: string }).message, /^dateEnd:/);
  const lastId = await get(s, 'topic=a', { accept: 'text/event-stream', 'last-event-id': 'x' });
  t.match(lastId, { status: 400 });
  q.failReplays = new (class extends Error {})('boom');
  t.equal((await get(s, 'topic=a')).status, 500, 'an unexpected failure is 500');
  const { ProtocolError } = await import('@wsq/core');
  q.failReplays = new ProtocolError('LIMIT_EXCEEDED', 'busy');
  const busy = await get(s, 'topic=a');
  t.match(busy, { status: 429, body: { error: { code: 'LIMIT_EXCEEDED' } } });
  t.equal(busy.headers['retry-after'], '1');
  q.failReplays = undefined;
  q.down();
  t.match(await get(s, 'topic=a'), { status: 503, body: { error: { code: 'UNAVAILABLE' } } });
});

/** An event stream read as text; `paused` stops reading it. */
function stream(s: Started, query: string, paused = false) {
  let text = '';
  let ended = false;
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  const req = request(`${s.base}/v1/messages?${query}`, {
    ca: s.ca,
    agent: false,
    headers: { authorization: AUTH, accept: 'text/event-stream' },
  });
  const opened = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      resolve(res.statusCode ?? 0);
      if (paused) res.pause();
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        wake();
      });
      res.on('close', () => {
        ended = true;
        wake();
      });
    });
    req.on('error', reject);
  });
  req.end();
  return {
    opened,
    close: () => req.destroy(),
    get text() {
      return text;
    },
    until(check: (text: string, ended: boolean) => boolean): Promise<void> {
      return new Promise((resolve) => {
        const c = () => {
          if (!check(text, ended)) return;
          waiters.delete(c);
          resolve();
        };
        waiters.add(c);
        c();
      });
    },
  };
}

t.test('event stream: history, subscribed, live, heartbeats', async (t) => {
  const q = createMemoryQueue();
  q.push('s.a', '"old"', 5);
  const s = await startSubscriber(t, q, { pingIntervalMs: 50 });
  const es = stream(s, 'topic=s.*&since=0');
  t.teardown(() => es.close());
  t.equal(await es.opened, 200);
  await es.until((text) => text.includes('event: subscribed'));
  t.match(es.text, 'id: 1\ndata: {"seq":1,"topic":"s.a","data":"old","ts":5}\n\n');
  q.push('s.b', '{"n":2}');
  await es.until((text) => text.includes('id: 2\n'));
  t.match(es.text, 'data: {"seq":2,"topic":"s.b","data":{"n":2}');
  await es.until((text) => text.split(': ping').length > 2);
  t.pass('heartbeat comments');
  es.close();
  await es.until((_text, ended) => ended);
});

t.test('event stream: a reader that stops reading is closed and counted', async (t) => {
  const q = createMemoryQueue();
  const s = await startSubscriber(t, q, { maxBufferedBytes: 64 * 1024 });
  const es = stream(s, 'topic=big', true);
  t.teardown(() => es.close());
  t.equal(await es.opened, 200);
  const data = JSON.stringify('x'.repeat(60_000));
  // Far more than the kernel's socket buffers hold: the response's own buffer must pass the limit.
  for (
    let i = 0;
    i < 600 && (await metricValue(s.metrics, 'wsq_closes_total', { reason: 'slow_consumer' })) === 0;
    i++
  ) {
    q.push('big', data);
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(
    await metricValue(s.metrics, 'wsq_closes_total', { reason: 'slow_consumer' }),
    1,
    'closed as a slow consumer',
  );
  t.ok(
    (await metricValue(s.metrics, 'wsq_dropped_messages_total', { reason: 'slow_consumer' })) >= 1,
    'the drop counted',
  );
});
