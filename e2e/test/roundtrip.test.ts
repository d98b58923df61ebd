import t from 'tap';
import { connectClient, nextWhere } from './clients.js';
import { createTrio } from './harness.js';

t.test('the trio, end to end, with legacy and v1 clients', async (t) => {
  const trio = await createTrio(t);

  const legacySub = await connectClient(trio.subscribeUrl(), trio.tls);
  t.teardown(() => legacySub.ws.close());
  const v1Sub = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  t.teardown(() => v1Sub.ws.close());
  legacySub.ws.send('{"Topic":"news","Content":"sub"}');
  v1Sub.ws.send(JSON.stringify({ op: 'sub', topic: 'news', id: 'r1' }));
  v1Sub.ws.send(JSON.stringify({ op: 'sub', topic: 'chat.>', id: 'r2' }));
  t.match(await v1Sub.reader.json(), { op: 'subscribed', id: 'r1', topic: 'news' });
  t.match(await v1Sub.reader.json(), { op: 'subscribed', id: 'r2', topic: 'chat.>' });

  const legacyPub = await connectClient(trio.publishUrl(), trio.tls);
  t.teardown(() => legacyPub.ws.close());
  const v1Pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  t.teardown(() => v1Pub.ws.close());

  // The legacy subscriber has no "subscribed" reply: publish until its subscription is in place.
  // The v1 ack proves the message is in the journal; v1Sub was subscribed before it was sent.
  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: 'first', id: 'p1' }));
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

  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'chat.eu', data: { n: 1 }, id: 'p2' }));
  const ack2 = await nextWhere(v1Pub.reader, (f) => f.op === 'ack');
  t.ok((ack2.seq as number) > (ack.seq as number), 'seqs increase');
  t.match(await v1Sub.reader.json(), { op: 'msg', topic: 'chat.eu', data: { n: 1 }, seq: ack2.seq });

  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: { kind: 'json' }, id: 'p3' }));
  t.equal(
    await legacySub.reader.next(),
    '{"Topic":"news","Content":"{\\"kind\\":\\"json\\"}"}',
    'non-string data reaches legacy as JSON text',
  );

  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: 1, id: 'p1' }));
  t.match(
    await nextWhere(v1Pub.reader, (f) => f.op === 'ack' && f.id === 'p1'),
    { seq: ack.seq },
    're-sent id gets the original ack',
  );
  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'bad topic', data: 1, id: 'e1' }));
  t.match(await v1Pub.reader.json(), { op: 'error', id: 'e1', code: 'BAD_TOPIC' });
});

t.test('since resumes across replay pages that hold no match (scan limit)', async (t) => {
  const trio = await createTrio(t, { msgqueue: ['--replay-scan-limit', '16'] });
  const pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  t.teardown(() => pub.ws.close());
  for (let i = 0; i < 100; i++) pub.ws.send(JSON.stringify({ op: 'pub', topic: 'noise', data: i, id: `n${i}` }));
  pub.ws.send(JSON.stringify({ op: 'pub', topic: 'signal', data: 'found', id: 'sig' }));
  const ack = await nextWhere(pub.reader, (f) => f.op === 'ack' && f.id === 'sig');
  const sub = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  t.teardown(() => sub.ws.close());
  sub.ws.send(JSON.stringify({ op: 'sub', topic: 'signal', since: 0, id: 's' }));
  t.match(await sub.reader.json(), { op: 'subscribed', id: 's', recovered: true });
  t.match(await sub.reader.json(), { op: 'msg', topic: 'signal', data: 'found', seq: ack.seq });
});
