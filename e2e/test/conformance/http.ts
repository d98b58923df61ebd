/**
 * The conformance suite, part 3: the HTTP API on every topology (the trio's own file,
 * e2e/test/http-api.test.ts, goes further). POST /v1/messages answers 201 once the queue took
 * the message; GET /v1/messages finds it by seq, by date range (the home's seqAtTime) and by
 * count; Server-Sent Events replay then go live; every answer conforms to docs/openapi.json.
 */
import t, { type Test } from 'tap';
import { USERS } from '../harness.js';
import { api, OPENAPI_TEXT, type ApiRequest, type Checked } from '../openapi.js';
import { openEvents } from '../sse-client.js';
import type { TopologyEntry } from '../topology.js';

const ALICE = { user: 'alice', password: USERS.alice.password };

export function httpSuite(entry: TopologyEntry): void {
  t.test(`conformance on ${entry.name}: the HTTP API`, { skip: entry.skip }, async (t) => {
    const topo = await entry.start(t);
    const base = (part: 'publisher' | 'subscriber'): string => `https://localhost:${topo.listener(part).port}`;
    const call = async (tt: Test, url: string, o: Omit<ApiRequest, 'ca'> = {}): Promise<Checked> => {
      const a = await api(url, { auth: ALICE, ...o, ca: topo.tls.ca });
      tt.same(a.problems, [], `${o.method ?? 'GET'} ${new URL(url).pathname} ${a.status} conforms`);
      return a;
    };
    const post = (tt: Test, body: unknown, headers: Record<string, string> = {}): Promise<Checked> =>
      call(tt, `${base('publisher')}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const history = (tt: Test, query: string): Promise<Checked> =>
      call(tt, `${base('subscriber')}/v1/messages?${query}`);

    await t.test('every wsq port serves the OpenAPI document', async (t) => {
      for (const part of topo.parts) {
        const a = await call(t, `https://localhost:${topo.listener(part).port}/v1/openapi.json`, {});
        t.equal(a.body, OPENAPI_TEXT, part);
      }
    });

    await t.test('publish, then find by seq, by date range and by count; ids dedupe', async (t) => {
      const before = Date.now();
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const a = await post(t, { topic: `h.${topo.name}`, data: { i } });
        t.equal(a.status, 201);
        seqs.push(a.json<{ seq: number }>().seq);
      }
      t.ok(
        seqs.every((s, k) => k === 0 || s > seqs[k - 1]!),
        'seqs increase',
      );
      const again = await post(t, { topic: `h.${topo.name}`, data: { i: 0 } }, { 'idempotency-key': 'h-1' });
      const dup = await post(t, { topic: `h.${topo.name}`, data: { i: 0 }, id: 'h-1' });
      t.equal(dup.json<{ seq: number }>().seq, again.json<{ seq: number }>().seq, 'the same id: the same seq');

      const page = await history(t, `topic=h.*&since=${seqs[0]! - 1}&limit=3`);
      t.same(
        page.json<{ messages: { seq: number; data: unknown }[] }>().messages.map((m) => [m.seq, m.data]),
        seqs.slice(0, 3).map((s, i) => [s, { i }]),
      );
      const next = page.json<{ next: number | null }>().next;
      t.ok(next !== null, 'a next cursor');
      const rest = await history(t, `topic=h.*&since=${next}&limit=100`);
      t.same(
        rest
          .json<{ messages: { seq: number }[] }>()
          .messages.map((m) => m.seq)
          .slice(0, 2),
        seqs.slice(3),
      );
      const start = new Date(before - 1).toISOString();
      const dated = await history(t, `topic=h.*&dateStart=${start}&limit=100`);
      t.equal(dated.json<{ messages: { seq: number }[] }>().messages[0]?.seq, seqs[0], 'the range starts at seq 1');
      const later = await history(t, `topic=h.*&dateStart=${new Date(Date.now() + 60_000).toISOString()}`);
      t.same(later.json<{ messages: unknown[] }>().messages, [], 'nothing after now');
      const counted = await history(t, `topic=h.*&count=1`);
      t.equal(counted.json<{ count: number }>().count, 6, 'five messages and one deduplicated pair');
    });

    await t.test('Server-Sent Events: history, then live', async (t) => {
      const first = (await post(t, { topic: `sse.${topo.name}`, data: 'old' })).json<{ seq: number }>().seq;
      const events = await openEvents(`${base('subscriber')}/v1/messages?topic=sse.*&since=${first - 1}`, {
        ca: topo.tls.ca,
        auth: ALICE,
      });
      t.teardown(() => events.close());
      t.equal(events.status, 200);
      await events.next((e) => e.event === 'subscribed');
      t.equal((await events.next((e) => e.event === 'message')).id, String(first));
      const live = (await post(t, { topic: `sse.${topo.name}`, data: 'live' })).json<{ seq: number }>().seq;
      t.equal((await events.next((e) => e.event === 'message')).id, String(live));
    });
  });
}
