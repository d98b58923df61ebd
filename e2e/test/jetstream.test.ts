/**
 * What only the JetStream home has to show (one nats-server of our own): seqs are the stream's,
 * and readiness follows the NATS connection while a publish held across the outage is
 * acknowledged afterwards. The behaviours every home shares (delivery, 1013, SIGTERM, kill -9)
 * run in the conformance suite (e2e/test/conformance/, topology `jetstream`).
 */
import t from 'tap';
import { connectClient, nextWhere } from './clients.js';
import { nextLog, status } from './prom.js';
import { jetstreamTopology } from './jetstream-topology.js';

const topology = jetstreamTopology(1, 1);

t.test(`${topology.name}: roundtrips, dedupe, since, readiness, SIGTERM`, { skip: topology.skip }, async (t) => {
  const d = await topology.start(t);
  const { trio } = d;
  const linked = [trio.publisher, trio.subscriber].map((p) =>
    p.waitLog((l) => l.msg === 'consuming from the queue' || l.msg === 'linked to the msgqueue'),
  );
  await Promise.all(linked);

  const legacySub = await connectClient(trio.subscribeUrl(), trio.tls);
  t.teardown(() => legacySub.ws.close());
  const v1Sub = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  t.teardown(() => v1Sub.ws.close());
  legacySub.ws.send('{"Topic":"news","Content":"sub"}');
  v1Sub.ws.send(JSON.stringify({ op: 'sub', topic: 'news', id: 'r1' }));
  v1Sub.ws.send(JSON.stringify({ op: 'sub', topic: 'chat.>', id: 'r2' }));
  t.match(await v1Sub.reader.json(), { op: 'subscribed', id: 'r1', topic: 'news' });
  t.match(await v1Sub.reader.json(), { op: 'subscribed', id: 'r2', topic: 'chat.>' });

  const v1Pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  t.teardown(() => v1Pub.ws.close());
  const legacyPub = await connectClient(trio.publishUrl(), trio.tls);
  t.teardown(() => legacyPub.ws.close());

  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: 'first', id: 'p1' }));
  const ack = await nextWhere(v1Pub.reader, (f) => f.op === 'ack');
  t.match(ack, { op: 'ack', id: 'p1', seq: 1 }, 'the seq is the stream sequence');
  t.match(await v1Sub.reader.json(), { op: 'msg', topic: 'news', seq: 1, data: 'first' });
  t.equal(await legacySub.reader.next(), '{"Topic":"news","Content":"first"}');

  legacyPub.ws.send('{"Topic":"news","Content":"from ws-go"}');
  t.equal(await legacySub.reader.next(), '{"Topic":"news","Content":"from ws-go"}');
  t.match(await v1Sub.reader.json(), { op: 'msg', topic: 'news', seq: 2, data: 'from ws-go' });

  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'chat.eu', data: { n: 1 }, id: 'p2' }));
  t.match(await nextWhere(v1Pub.reader, (f) => f.op === 'ack'), { id: 'p2', seq: 3 });
  t.match(await v1Sub.reader.json(), { op: 'msg', topic: 'chat.eu', data: { n: 1 }, seq: 3 });

  // Dedupe: the same id again gets the original ack and is not delivered again.
  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: 'again', id: 'p1' }));
  t.match(await nextWhere(v1Pub.reader, (f) => f.op === 'ack'), { id: 'p1', seq: 1 }, 'the original ack');
  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: 'next', id: 'p4' }));
  t.match(await nextWhere(v1Pub.reader, (f) => f.op === 'ack'), { id: 'p4', seq: 4 });
  t.match(await v1Sub.reader.json(), { op: 'msg', seq: 4, data: 'next' }, 'no duplicate before it');

  // since: a new connection catches up from seq 1 and continues live with no gap.
  const late = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  t.teardown(() => late.ws.close());
  late.ws.send(JSON.stringify({ op: 'sub', topic: 'news', id: 's', since: 1 }));
  t.match(await late.reader.json(), { op: 'subscribed', id: 's', seq: 4, recovered: true });
  t.match(await late.reader.json(), { op: 'msg', seq: 2, data: 'from ws-go' });
  t.match(await late.reader.json(), { op: 'msg', seq: 4, data: 'next' });
  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: 'live', id: 'p5' }));
  t.match(await late.reader.json(), { op: 'msg', seq: 5, data: 'live' });

  // Readiness follows the NATS connection.
  const downs = [
    nextLog(trio.publisher, (l) => String(l.msg).includes('link down')),
    nextLog(trio.subscriber, (l) => l.msg === 'JetStream queue down'),
  ];
  await d.killQueue();
  await Promise.all(downs);
  for (const p of [trio.publisher, trio.subscriber]) {
    t.equal(await status(p, trio.tls, '/readyz'), 503, `${p.name} unready without NATS`);
    t.equal(await status(p, trio.tls, '/healthz'), 200, `${p.name} alive without NATS`);
  }
  // A v1 publish while NATS is away waits in the outbox and is acknowledged once it is back.
  v1Pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: 'held', id: 'p6' }));
  const ups = [
    nextLog(trio.publisher, (l) => l.msg === 'linked to the msgqueue'),
    nextLog(trio.subscriber, (l) => l.msg === 'JetStream stream checked: queue up'),
  ];
  await d.restartQueue();
  await Promise.all(ups);
  t.match(await nextWhere(v1Pub.reader, (f) => f.op === 'ack' && f.id === 'p6'), { seq: 6 });
  t.match(await late.reader.json(), { op: 'msg', seq: 6, data: 'held' });
  for (const p of [trio.publisher, trio.subscriber]) {
    t.equal(await status(p, trio.tls, '/readyz'), 200, `${p.name} ready once NATS is back`);
  }

  // SIGTERM: clients get 1001, the services exit 0.
  const [subExit, subClose] = await Promise.all([trio.subscriber.terminate(), late.reader.waitClose()]);
  t.equal(subClose.code, 1001);
  t.equal(subExit.code, 0);
  const [pubExit, pubClose] = await Promise.all([trio.publisher.terminate(), v1Pub.reader.waitClose()]);
  t.equal(pubClose.code, 1001);
  t.equal(pubExit.code, 0);
});
