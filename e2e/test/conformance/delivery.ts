/**
 * The conformance suite, part 1: what a client sees of one running topology (legacy and v1
 * roundtrips, wildcards, errors, ws-go's frames, since/recovered, dedupe, outside ws-go
 * peers on /pushmsg and /popmsg, readiness, metrics moving). One topology is started per
 * run and shared by the tests, which use topics of their own.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectWs } from '@wsq/core/testing';
import t from 'tap';
import { connectClient, nextWhere, type Client } from '../clients.js';
import { ROOT, USERS } from '../harness.js';
import { scrape, status } from '../prom.js';
import type { Topology, TopologyEntry } from '../topology.js';

const run = promisify(execFile);

const pub = (topic: string, data: unknown, id?: string): string =>
  JSON.stringify(id === undefined ? { op: 'pub', topic, data } : { op: 'pub', topic, data, id });
const sub = (topic: string, more: Record<string, unknown> = {}): string =>
  JSON.stringify({ op: 'sub', topic, ...more });

export function deliverySuite(entry: TopologyEntry): void {
  t.test(`conformance on ${entry.name}: delivery`, { skip: entry.skip }, async (t) => {
    // A small replay scan budget, so that `since` pages through replies that match nothing.
    const topo = await entry.start(t, { queue: ['--replay-scan-limit', '16'] });
    const open = async (url: string, v1 = true): Promise<Client> => {
      const c = await connectClient(url, topo.tls, { v1 });
      t.teardown(() => c.ws.terminate());
      return c;
    };

    await t.test('legacy and v1 roundtrips, wildcards, errors, dedupe', async (t) => {
      const legacySub = await open(topo.subscribeUrl(), false);
      const v1Sub = await open(topo.subscribeUrl());
      legacySub.ws.send('{"Topic":"news","Content":"sub"}');
      v1Sub.ws.send(sub('news', { id: 'r1' }));
      v1Sub.ws.send(sub('chat.>', { id: 'r2' }));
      t.match(await v1Sub.reader.json(), { op: 'subscribed', id: 'r1', topic: 'news' });
      t.match(await v1Sub.reader.json(), { op: 'subscribed', id: 'r2', topic: 'chat.>' });
      await subscribedTimes(topo, 'news', 2); // the legacy subscription has no reply

      const legacyPub = await open(topo.publishUrl(), false);
      const v1Pub = await open(topo.publishUrl());
      v1Pub.ws.send(pub('news', 'first', 'p1'));
      const ack = await v1Pub.reader.json();
      t.match(ack, { op: 'ack', id: 'p1' });
      t.type(ack.seq, 'number');
      const first = await v1Sub.reader.json();
      t.match(first, { op: 'msg', topic: 'news', seq: ack.seq, data: 'first' });
      t.type(first.ts, 'number');
      t.equal(await legacySub.reader.next(), '{"Topic":"news","Content":"first"}');

      legacyPub.ws.send('{"Topic":"news","Content":"from ws-go"}');
      t.equal(await legacySub.reader.next(), '{"Topic":"news","Content":"from ws-go"}');
      t.match(await v1Sub.reader.json(), { op: 'msg', topic: 'news', data: 'from ws-go' });

      v1Pub.ws.send(pub('chat.eu', { n: 1 }, 'p2'));
      const ack2 = await nextWhere(v1Pub.reader, (f) => f.op === 'ack');
      t.ok((ack2.seq as number) > (ack.seq as number), 'seqs increase');
      t.match(await v1Sub.reader.json(), { op: 'msg', topic: 'chat.eu', data: { n: 1 }, seq: ack2.seq });

      v1Pub.ws.send(pub('news', { kind: 'json' }, 'p3'));
      t.equal(
        await legacySub.reader.next(),
        '{"Topic":"news","Content":"{\\"kind\\":\\"json\\"}"}',
        'non-string data reaches legacy as JSON text',
      );
      t.match(await v1Sub.reader.json(), { op: 'msg', topic: 'news', data: { kind: 'json' } });

      v1Pub.ws.send(pub('news', 1, 'p1'));
      t.match(
        await nextWhere(v1Pub.reader, (f) => f.op === 'ack' && f.id === 'p1'),
        { seq: ack.seq },
        're-sent id gets the original ack',
      );
      v1Pub.ws.send(pub('bad topic', 1, 'e1'));
      t.match(await v1Pub.reader.json(), { op: 'error', id: 'e1', code: 'BAD_TOPIC' });
      v1Pub.ws.send('{"op":"pub"');
      t.match(await v1Pub.reader.json(), { op: 'error', code: 'BAD_FRAME' });
      v1Sub.ws.send(sub('chat.*.*.', { id: 'bad' }));
      t.match(await nextWhere(v1Sub.reader, (f) => f.op === 'error'), { id: 'bad', code: 'BAD_TOPIC' });

      // The duplicate of p1 was not delivered again: the next message is the one after it.
      v1Pub.ws.send(pub('chat.us.west', 'deep', 'p4'));
      const ack4 = await nextWhere(v1Pub.reader, (f) => f.op === 'ack' && f.id === 'p4');
      t.match(await v1Sub.reader.json(), { op: 'msg', topic: 'chat.us.west', seq: ack4.seq }, '> matches deeper');
      v1Sub.ws.send(JSON.stringify({ op: 'unsub', topic: 'chat.>', id: 'u' }));
      t.match(await v1Sub.reader.json(), { op: 'unsubscribed', id: 'u', topic: 'chat.>' });
    });

    await t.test("ws-go's frames: sub, pub, unsub, other topics, invalid frames ignored", async (t) => {
      const a = await open(topo.subscribeUrl(), false);
      const b = await open(topo.subscribeUrl(), false);
      const p = await open(topo.publishUrl(), false);
      a.ws.send('{"Topic":"wsgo.a","Content":"sub"}');
      b.ws.send('{"Topic":"wsgo.a","Content":"sub"}');
      b.ws.send('{"Topic":"wsgo.b","Content":"sub"}');
      await subscribedTimes(topo, 'wsgo.a', 2);
      await subscribedTimes(topo, 'wsgo.b', 1);
      const table: { send: string[]; topic: string; content: string; to: ('a' | 'b')[] }[] = [
        { send: ['{"Topic":"wsgo.a","Content":"one"}'], topic: 'wsgo.a', content: 'one', to: ['a', 'b'] },
        { send: ['{"Topic":"wsgo.b","Content":"two"}'], topic: 'wsgo.b', content: 'two', to: ['b'] },
        {
          // Invalid frames are ignored: no error frame, the connection stays open.
          send: ['not json', '[1,2]', '{"Topic":"","Content":"x"}', '{"Topic":"wsgo.a","Content":"three"}'],
          topic: 'wsgo.a',
          content: 'three',
          to: ['a', 'b'],
        },
        {
          send: ['{"Topic":"wsgo.a","Content":"with \\"quotes\\" and ünïcode"}'],
          topic: 'wsgo.a',
          content: 'with "quotes" and ünïcode',
          to: ['a', 'b'],
        },
      ];
      for (const row of table) {
        for (const frame of row.send) p.ws.send(frame);
        for (const who of row.to) {
          const got = JSON.parse(await { a, b }[who].reader.next()) as unknown;
          t.same(got, { Topic: row.topic, Content: row.content }, `${who} got ${row.content}`);
        }
      }
      // unsub: b stops getting wsgo.a. Frames of one connection are served in order, so once
      // its next subscription is logged the unsub is in place.
      b.ws.send('{"Topic":"wsgo.a","Content":"unsub"}');
      b.ws.send('{"Topic":"wsgo.c","Content":"sub"}');
      await subscribedTimes(topo, 'wsgo.c', 1);
      p.ws.send('{"Topic":"wsgo.a","Content":"four"}');
      p.ws.send('{"Topic":"wsgo.b","Content":"five"}');
      t.same(JSON.parse(await a.reader.next()), { Topic: 'wsgo.a', Content: 'four' });
      t.same(JSON.parse(await b.reader.next()), { Topic: 'wsgo.b', Content: 'five' }, 'unsubscribed topic skipped');
    });

    await t.test('since replays with recovered, across pages that match nothing, then goes live', async (t) => {
      const p = await open(topo.publishUrl());
      for (let i = 0; i < 100; i++) p.ws.send(pub('since.noise', i, `n${i}`));
      p.ws.send(pub('since.signal', 'found', 'sig'));
      const ack = await nextWhere(p.reader, (f) => f.op === 'ack' && f.id === 'sig');
      const s = await open(topo.subscribeUrl());
      s.ws.send(sub('since.signal', { since: 0, id: 's' }));
      t.match(await s.reader.json(), { op: 'subscribed', id: 's', recovered: true });
      t.match(await s.reader.json(), { op: 'msg', topic: 'since.signal', data: 'found', seq: ack.seq });
      p.ws.send(pub('since.signal', 'live', 'live'));
      t.match(await s.reader.json(), { op: 'msg', topic: 'since.signal', data: 'live' }, 'then live, no duplicate');
      const s2 = await open(topo.subscribeUrl());
      s2.ws.send(sub('since.>', { since: ack.seq, id: 's2' }));
      t.match(await s2.reader.json(), { op: 'subscribed', id: 's2', recovered: true });
      t.match(await s2.reader.json(), { op: 'msg', data: 'live' }, 'since is exclusive');
    });

    await t.test('outside ws-go peers join the same journal on /pushmsg and /popmsg', async (t) => {
      const queueUrl = topo.queueUrl;
      if (!queueUrl) return t.pass(`${topo.name}: the queue has no ws-go endpoints`);
      const auth = { ca: topo.tls.ca, user: 'alice', password: USERS.alice.password };
      const s = await open(topo.subscribeUrl());
      s.ws.send(sub('outside.>', { id: 'o' }));
      await nextWhere(s.reader, (f) => f.op === 'subscribed');
      const pusher = await connectWs(`${queueUrl()}/pushmsg`, auth);
      t.teardown(() => pusher.terminate());
      pusher.send('{"Topic":"outside.in","Content":"pushed by ws-go"}');
      t.match(await nextWhere(s.reader, (f) => f.op === 'msg'), { topic: 'outside.in', data: 'pushed by ws-go' });

      const popper = await connectClient(`${queueUrl()}/popmsg`, topo.tls);
      t.teardown(() => popper.ws.terminate());
      const p = await open(topo.publishUrl());
      p.ws.send(pub('outside.out', 'for ws-go', 'out'));
      await nextWhere(p.reader, (f) => f.op === 'ack');
      for (;;) {
        const frame = JSON.parse(await popper.reader.next()) as { Topic: string; Content: string };
        if (frame.Topic !== 'outside.out') continue;
        t.same(frame, { Topic: 'outside.out', Content: 'for ws-go' }, 'a ws-go consumer pops what /publish took');
        break;
      }
    });

    await t.test('clientdemo script mode', async (t) => {
      const demo = join(ROOT, 'clientdemo/dist/src/main.js');
      const common = ['--ca', topo.tls.caPath, '--user', 'alice', '--password', 'alice-secret'];
      const urls = ['--publish-url', topo.publishUrl(), '--subscribe-url', topo.subscribeUrl()];
      const subscriber = execFile(process.execPath, [demo, 'sub', 'demo.topic', '--count', '1', ...common, ...urls]);
      const out = new Promise<string>((resolve, reject) => {
        let text = '';
        subscriber.stdout!.on('data', (d: Buffer) => (text += d.toString()));
        subscriber.on('exit', (code) =>
          code === 0 ? resolve(text) : reject(new Error(`clientdemo sub exited ${code}`)),
        );
      });
      // Legacy subscriptions have no acknowledgement: wait until the subscriber logs it in place.
      await subscribedTimes(topo, 'demo.topic', 1);
      const sent = await run(process.execPath, [
        demo,
        'pub',
        'demo.topic',
        'hello',
        'from',
        'demo',
        ...common,
        ...urls,
      ]);
      t.equal(sent.stderr, '');
      t.match(await out, '<[demo.topic] hello from demo');
    });

    await t.test('probes on every port; metrics move with the traffic', async (t) => {
      for (const part of topo.parts) {
        const at = topo.listener(part);
        t.equal(await status(at, topo.tls, '/readyz'), 200, `${part} /readyz`);
        t.equal(await status(at, topo.tls, '/healthz'), 200, `${part} /healthz`);
        t.equal((await scrape(at, topo.tls)).sum('wsq_ready'), 1, `${part} wsq_ready`);
      }
      const metric = {
        queue: 'wsq_queue_appended_total',
        publisher: 'wsq_publisher_published_total',
        subscriber: 'wsq_subscriber_consumed_total',
      };
      const before = await Promise.all(topo.parts.map((p) => scrape(topo.listener(p), topo.tls)));
      const s = await open(topo.subscribeUrl());
      s.ws.send(sub('metrics.>', { id: 'm' }));
      await nextWhere(s.reader, (f) => f.op === 'subscribed');
      const p = await open(topo.publishUrl());
      const N = 20;
      for (let i = 0; i < N; i++) p.ws.send(pub('metrics.m', i, `m${i}`));
      for (let i = 0; i < N; i++) await nextWhere(p.reader, (f) => f.op === 'ack');
      for (let i = 0; i < N; i++) await nextWhere(s.reader, (f) => f.op === 'msg');
      const after = await Promise.all(topo.parts.map((p) => scrape(topo.listener(p), topo.tls)));
      topo.parts.forEach((part, k) => {
        t.ok(after[k]!.sum(metric[part]) - before[k]!.sum(metric[part]) >= N, `${metric[part]} moved by ${N}`);
      });
    });
  });
}

/** Waits until the subscriber logged `times` subscriptions to `pattern` (legacy ones have no reply). */
async function subscribedTimes(topo: Topology, pattern: string, times: number): Promise<void> {
  const proc = topo.proc('subscriber');
  const count = (): number => proc.lines.filter((l) => l.msg === 'subscribed' && l.pattern === pattern).length;
  await proc.waitLog(() => count() >= times);
}
