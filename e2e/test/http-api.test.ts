/**
 * The HTTP API on the real trio: POST /v1/messages on the publisher, GET /v1/messages (JSON
 * and Server-Sent Events) on the subscriber, the OpenAPI document on every service. Every
 * answer is checked against docs/openapi.json (openapi.ts).
 */
import t, { type Test } from 'tap';
import { connectClient, nextWhere } from './clients.js';
import { createTrio, USERS, type Trio } from './harness.js';
import { api, OPENAPI_TEXT, type ApiRequest, type Checked } from './openapi.js';
import { openEvents } from './sse-client.js';

const ALICE = { user: 'alice', password: USERS.alice.password };
/** A link user of the trio: may publish anywhere, read nothing. */
const WRITER = { user: 'publisher', password: USERS.publisher.password };
/** A link user of the trio: may read anything, publish nothing. */
const READER = { user: 'subscriber', password: USERS.subscriber.password };

let trio: Trio;
t.before(async () => {
  trio = await createTrio(t, { msgqueue: ['--segment-bytes', '4096'] });
});

const pubUrl = (path = '/v1/messages'): string => `https://localhost:${trio.publisher.port}${path}`;
const subUrl = (query: string): string => `https://localhost:${trio.subscriber.port}/v1/messages?${query}`;

/** A request whose answer must conform to docs/openapi.json. */
async function call(tt: Test, url: string, o: Omit<ApiRequest, 'ca'> = {}): Promise<Checked> {
  const a = await api(url, { auth: ALICE, ...o, ca: trio.tls.ca });
  tt.same(a.problems, [], `${o.method ?? 'GET'} ${new URL(url).pathname} ${a.status} conforms to the OpenAPI document`);
  return a;
}

function post(tt: Test, body: unknown, o: Omit<ApiRequest, 'ca'> = {}): Promise<Checked> {
  return call(tt, pubUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...o.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(o.auth ? { auth: o.auth } : {}),
  });
}

t.test('every service serves docs/openapi.json at /v1/openapi.json', async (t) => {
  for (const port of [trio.msgqueue.port, trio.publisher.port, trio.subscriber.port]) {
    const a = await call(t, `https://localhost:${port}/v1/openapi.json`, {});
    t.equal(a.status, 200);
    t.equal(a.body, OPENAPI_TEXT, `port ${port}: the document in the repository`);
  }
});

t.test('probes, metrics, tickets and WebSocket paths answer as the OpenAPI document says', async (t) => {
  const services = [
    { port: trio.msgqueue.port, ws: ['/pushmsg', '/popmsg'], tickets: false },
    { port: trio.publisher.port, ws: ['/publish'], tickets: true },
    { port: trio.subscriber.port, ws: ['/subscribe'], tickets: true },
  ];
  for (const s of services) {
    const at = (path: string): string => `https://localhost:${s.port}${path}`;
    t.equal((await call(t, at('/healthz'), { auth: undefined })).status, 200);
    t.equal((await call(t, at('/readyz'), { auth: undefined })).status, 200);
    const metrics = await call(t, at('/metrics'), { auth: undefined });
    t.match(metrics.body, /wsq_/);
    t.equal((await call(t, at('/metrics'), { method: 'POST' })).status, 405);
    t.equal((await call(t, at('/v1/openapi.json'), { method: 'DELETE' })).status, 405);
    for (const path of s.ws) {
      t.equal((await call(t, at(path))).status, 400, `${path}: a plain request`);
      t.equal((await call(t, at(path), { auth: { user: 'alice', password: 'nope' } })).status, 401);
    }
    if (!s.tickets) continue;
    t.equal((await call(t, at('/v1/tickets'), { method: 'POST' })).status, 200);
    t.equal((await call(t, at('/v1/tickets'), {})).status, 405);
    t.equal((await call(t, at('/v1/tickets'), { method: 'POST', auth: { user: 'alice', password: 'x' } })).status, 401);
  }
});

t.test('publish: 201 once journaled, Location, aliases, idempotent with a v1 pub of the same id', async (t) => {
  const one = await post(t, { topic: 'http.a', data: { n: 1 } });
  t.equal(one.status, 201);
  const first = one.json<{ seq: number; topic: string; id: string | null }>();
  t.match(first, { topic: 'http.a', id: null });
  t.equal(one.headers.location, `/v1/messages?topic=http.a&since=${first.seq - 1}&limit=1`);
  const located = await call(t, `https://localhost:${trio.subscriber.port}${one.headers.location as string}`);
  t.same(located.json<{ messages: unknown[] }>().messages, [
    {
      seq: first.seq,
      topic: 'http.a',
      data: { n: 1 },
      ts: located.json<{ messages: { ts: number }[] }>().messages[0]!.ts,
    },
  ]);

  const alias = await post(t, { tag: 'http.a', text: 'plain text' });
  t.equal(alias.status, 201);

  const withId = await post(t, { topic: 'http.a', data: 'once', id: 'dup-1' });
  const again = await post(t, { topic: 'http.a', data: 'once' }, { headers: { 'idempotency-key': 'dup-1' } });
  t.equal(again.json<{ seq: number }>().seq, withId.json<{ seq: number }>().seq, 'Idempotency-Key = id: same seq');
  const ws = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  t.teardown(() => ws.ws.terminate());
  ws.ws.send(JSON.stringify({ op: 'pub', topic: 'http.a', data: 'once', id: 'dup-1' }));
  const ack = await nextWhere(ws.reader, (f) => f.op === 'ack');
  t.equal(ack.seq, withId.json<{ seq: number }>().seq, 'a v1 pub with the same user and id dedupes with the post');

  const batch = await post(t, [
    { topic: 'http.b', data: 1 },
    { topic: 'http.b', data: 2, id: 'b-2' },
  ]);
  t.equal(batch.status, 201);
  const seqs = batch.json<{ messages: { seq: number; id: string | null }[] }>().messages;
  t.equal(seqs.length, 2);
  t.equal(seqs[1]!.seq, seqs[0]!.seq + 1, 'one batch, consecutive seqs');
  t.equal(seqs[1]!.id, 'b-2');
});

t.test('publish refusals: 415, 400, 403, 401, 405, 413', async (t) => {
  const notJson = await call(t, pubUrl(), {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: '{"topic":"a","data":1}',
  });
  t.match({ s: notJson.status, e: notJson.json() }, { s: 415, e: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } });
  for (const [body, code] of [
    ['{"topic":', 'BAD_FRAME'],
    ['[]', 'BAD_FRAME'],
    ['{"topic":"a"}', 'BAD_FRAME'],
    ['{"topic":"a","data":1,"id":""}', 'BAD_FRAME'],
    ['{"topic":"a b","data":1}', 'BAD_TOPIC'],
    ['{"topic":"a.*","data":1}', 'BAD_TOPIC'],
    ['[{"topic":"a","data":1},{"topic":"a b","data":1}]', 'BAD_TOPIC'],
  ]) {
    const a = await post(t, body);
    t.match({ s: a.status, e: a.json() }, { s: 400, e: { error: { code } } }, body);
  }
  const forbidden = await post(t, { topic: 'a', data: 1 }, { auth: READER });
  t.match({ s: forbidden.status, e: forbidden.json() }, { s: 403, e: { error: { code: 'FORBIDDEN' } } });
  const anonymous = await call(t, pubUrl(), { method: 'POST', auth: { user: 'alice', password: 'wrong' } });
  t.equal(anonymous.status, 401);
  const get = await call(t, pubUrl(), {});
  t.match({ s: get.status, allow: get.headers.allow }, { s: 405, allow: 'POST' });
  const put = await call(t, subUrl('topic=a'), { method: 'PUT' });
  t.match({ s: put.status, allow: put.headers.allow }, { s: 405, allow: 'GET' });
  const huge = await post(t, { topic: 'a', data: 'x'.repeat(70_000) });
  t.match({ s: huge.status, e: huge.json() }, { s: 413, e: { error: { code: 'TOO_LARGE' } } });
});

t.test('history: seq order, pages with next, count, date ranges, parameters', async (t) => {
  const posted: number[] = [];
  for (let i = 0; i < 5; i++)
    posted.push((await post(t, { topic: `hist.${i % 2}`, data: i })).json<{ seq: number }>().seq);
  const since = posted[0]! - 1;
  const all = await call(t, subUrl(`topic=hist.*&since=${since}`));
  t.same(
    all.json<{ messages: { seq: number; data: number }[] }>().messages.map((m) => [m.seq, m.data]),
    posted.map((s, i) => [s, i]),
  );
  t.equal(all.json<{ next: number | null }>().next, null, 'everything: no next page');
  const page1 = await call(t, subUrl(`topic=hist.*&since=${since}&limit=2`));
  const p1 = page1.json<{ messages: { seq: number }[]; next: number }>();
  t.same(
    p1.messages.map((m) => m.seq),
    posted.slice(0, 2),
  );
  const page2 = await call(t, subUrl(`topic=hist.*&since=${p1.next}&limit=2`));
  t.same(
    page2.json<{ messages: { seq: number }[] }>().messages.map((m) => m.seq),
    posted.slice(2, 4),
    'next continues',
  );
  const evens = await call(t, subUrl(`topic=hist.0&since=${since}&count=1`));
  t.match(evens.json(), { count: 3 });

  const tsOf = all.json<{ messages: { ts: number }[] }>().messages.map((m) => m.ts);
  const start = new Date(tsOf[1]!).toISOString();
  const ranged = await call(t, subUrl(`topic=hist.*&dateStart=${start}&limit=1000`));
  const rangedSeqs = ranged.json<{ messages: { seq: number; ts: number }[] }>().messages;
  t.ok(
    rangedSeqs.every((m) => m.ts >= tsOf[1]!),
    'nothing before dateStart',
  );
  t.ok(
    rangedSeqs.some((m) => m.seq === posted[4]),
    'the newest is in the open range',
  );
  const end = new Date(tsOf[4]! + 1).toISOString();
  const closed = await call(t, subUrl(`topic=hist.*&dateStart=${start}&dateEnd=${end}&count=1`));
  t.ok(closed.json<{ count: number }>().count >= 4, 'a closed range counts what lies in it');
  const future = await call(t, subUrl(`topic=hist.*&dateStart=2999-01-01T00:00:00Z`));
  t.same(future.json<{ messages: unknown[]; next: null }>().messages, []);

  for (const [query, param] of [
    ['', 'topic'],
    ['topic=a%20b', 'topic'],
    ['topic=a&limit=0', 'limit'],
    ['topic=a&limit=1001', 'limit'],
    ['topic=a&since=-1', 'since'],
    ['topic=a&dateStart=yesterday', 'dateStart'],
    ['topic=a&dateStart=2026-02-01T00:00:00Z&dateEnd=2026-01-01T00:00:00Z', 'dateEnd'],
    ['topic=a&count=maybe', 'count'],
    ['topic=a&colour=red', 'colour'],
  ]) {
    const a = await call(t, subUrl(query));
    t.equal(a.status, 400, query);
    const e = a.json<{ error: { code: string; message: string } }>().error;
    t.equal(e.code, 'BAD_PARAMETER');
    t.ok(e.message.startsWith(`${param}:`), `${query}: names ${param}`);
  }
  const forbidden = await call(t, subUrl('topic=hist.*'), { auth: WRITER });
  t.match({ s: forbidden.status, e: forbidden.json() }, { s: 403, e: { error: { code: 'FORBIDDEN' } } });
  const anonymous = await call(t, subUrl('topic=hist.*'), { auth: { user: 'alice', password: 'nope' } });
  t.equal(anonymous.status, 401);
});

t.test('history spanning retention cuts answers what is retained', async (t) => {
  const data = 'r'.repeat(600);
  let last = 0;
  for (let i = 0; i < 40; i++) last = (await post(t, { topic: 'cut.x', data })).json<{ seq: number }>().seq;
  // 40 × ~650 bytes over 4 KiB segments; retention keeps what --retain-* allows (defaults: all),
  // so restart the msgqueue with a small message limit to cut the start.
  const linkUps = (): number => trio.subscriber.lines.filter((l) => l.msg === 'msgqueue link up').length;
  const before = linkUps();
  await trio.msgqueue.terminate();
  await trio.start('msgqueue', ['--retain-messages', '10']);
  await trio.subscriber.waitLog(() => linkUps() > before);
  const page = await call(t, subUrl('topic=cut.*&since=0&limit=1000'));
  const body = page.json<{ messages: { seq: number }[]; first: number; next: number | null }>();
  t.ok(body.first > 1, `retention cut the start: first retained ${body.first}`);
  t.ok(body.messages.length > 0 && body.messages.length < 40, 'answers the retained part');
  t.ok(
    body.messages.every((m) => m.seq >= body.first),
    'nothing older than first',
  );
  t.equal(body.messages[body.messages.length - 1]!.seq, last, 'up to the newest');
});

t.test('SSE: history then live, id = seq, Last-Event-ID resumes, tickets', async (t) => {
  const a = (await post(t, { topic: 'sse.a', data: 'old' })).json<{ seq: number }>().seq;
  const events = await openEvents(subUrl(`topic=sse.*&since=${a - 1}`), { ca: trio.tls.ca, auth: ALICE });
  t.teardown(() => events.close());
  t.equal(events.status, 200);
  t.match(events.contentType, /^text\/event-stream/);
  const sub = await events.next((e) => e.event === 'subscribed');
  t.match(JSON.parse(sub.data), { topic: 'sse.*', recovered: true });
  const old = await events.next((e) => e.event === 'message');
  t.same(
    { id: old.id, data: JSON.parse(old.data) },
    { id: String(a), data: { seq: a, topic: 'sse.a', data: 'old', ts: JSON.parse(old.data).ts } },
  );
  const b = (await post(t, { topic: 'sse.b', data: 'live' })).json<{ seq: number }>().seq;
  const live = await events.next((e) => e.event === 'message');
  t.same([live.id, JSON.parse(live.data).data], [String(b), 'live'], 'then live, no gap');
  events.close();

  const c = (await post(t, { topic: 'sse.c', data: 'missed' })).json<{ seq: number }>().seq;
  const resumed = await openEvents(subUrl('topic=sse.*'), {
    ca: trio.tls.ca,
    auth: ALICE,
    headers: { 'last-event-id': String(b) },
  });
  t.teardown(() => resumed.close());
  const missed = await resumed.next((e) => e.event === 'message');
  t.equal(missed.id, String(c), 'Last-Event-ID: the next one after it, nothing before');
  resumed.close();

  const issued = await call(t, `https://localhost:${trio.subscriber.port}/v1/tickets`, { method: 'POST' });
  const { ticket } = issued.json<{ ticket: string }>();
  const byTicket = await openEvents(subUrl(`topic=sse.*&since=${b}&ticket=${ticket}`), { ca: trio.tls.ca });
  t.teardown(() => byTicket.close());
  t.equal(byTicket.status, 200, 'a ticket stands in for Basic Auth');
  t.equal((await byTicket.next((e) => e.event === 'message')).id, String(c));
  byTicket.close();
  const reused = await call(t, subUrl(`topic=sse.*&ticket=${ticket}`), {
    auth: undefined,
    headers: { accept: 'text/event-stream' },
  });
  t.equal(reused.status, 401, 'a ticket is single-use');

  const refused = await call(t, subUrl('topic=sse.*&count=1'), { headers: { accept: 'text/event-stream' } });
  t.equal(refused.status, 400);
  const forbidden = await call(t, subUrl('topic=sse.*'), { auth: WRITER, headers: { accept: 'text/event-stream' } });
  t.equal(forbidden.status, 403);
});
