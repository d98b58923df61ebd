import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { connectClient, nextWhere } from './clients.js';
import { createTrio, ROOT } from './harness.js';

const run = promisify(execFile);

t.test('a stalled reader is closed with 1013 while a healthy one receives everything', async (t) => {
  // Kernel socket buffers on loopback absorb several MiB before the server's own buffer grows,
  // so the stream is larger than those: 400 messages of 40 KB.
  const trio = await createTrio(t, {
    subscriber: ['--max-buffered-bytes', String(512 * 1024)],
    publisher: ['--outbox-bytes', String(64 * 1024 * 1024)],
  });
  const healthy = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  t.teardown(() => healthy.ws.close());
  const stalled = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  for (const c of [healthy, stalled]) c.ws.send(JSON.stringify({ op: 'sub', topic: 'big', id: 's' }));
  await nextWhere(healthy.reader, (f) => f.op === 'subscribed');
  await nextWhere(stalled.reader, (f) => f.op === 'subscribed');
  // Stop reading from the socket: the kernel buffers fill, then the server's send buffer grows.
  stalled.ws.pause();

  const pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  t.teardown(() => pub.ws.close());
  // Read the stalled socket again as soon as the subscriber has given up on it: its close
  // frame sits behind what the kernel buffered, and must arrive within the close grace.
  const kicked = trio.subscriber
    .waitLog((l) => l.reason === 'slow_consumer')
    .then(() => {
      stalled.ws.resume();
      return stalled.reader.waitClose();
    });
  const payload = 'x'.repeat(40_000);
  const COUNT = 400;
  // In batches the healthy reader takes in before the next one: a batch (400 KB) stays below its
  // 512 KiB limit even with no kernel buffer between, so it is healthy however slowly this test
  // process runs on a loaded machine, while the stalled reader's backlog grows past the limit.
  const BATCH = 10;
  const got: number[] = [];
  for (let first = 0; first < COUNT; first += BATCH) {
    for (let i = first; i < first + BATCH; i++)
      pub.ws.send(JSON.stringify({ op: 'pub', topic: 'big', data: { i, payload }, id: `b${i}` }));
    while (got.length < first + BATCH) {
      const f = await nextWhere(healthy.reader, (m) => m.op === 'msg');
      got.push((f.data as { i: number }).i);
    }
  }
  t.same(got, [...Array(COUNT).keys()], 'healthy reader got every message in order');
  t.equal((await kicked).code, 1013, 'stalled reader closed with 1013');
});

t.test('SIGTERM closes clients with 1001 and every service exits 0', async (t) => {
  const trio = await createTrio(t);
  const sub = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  const pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  pub.ws.send(JSON.stringify({ op: 'pub', topic: 'x', data: 1, id: 'a' }));
  await nextWhere(pub.reader, (f) => f.op === 'ack');
  const [subExit, subClose] = await Promise.all([trio.subscriber.terminate(), sub.reader.waitClose()]);
  t.equal(subClose.code, 1001);
  t.equal(subExit.code, 0);
  const [pubExit, pubClose] = await Promise.all([trio.publisher.terminate(), pub.reader.waitClose()]);
  t.equal(pubClose.code, 1001);
  t.equal(pubExit.code, 0);
  t.equal((await trio.msgqueue.terminate()).code, 0);
});

t.test('clientdemo script mode against the real trio', async (t) => {
  const trio = await createTrio(t);
  const demo = join(ROOT, 'clientdemo/dist/src/main.js');
  const common = ['--ca', trio.tls.caPath, '--user', 'alice', '--password', 'alice-secret'];
  const urls = ['--publish-url', trio.publishUrl(), '--subscribe-url', trio.subscribeUrl()];
  const subscriber = execFile(process.execPath, [demo, 'sub', 'demo.topic', '--count', '1', ...common, ...urls]);
  const out = new Promise<string>((resolve, reject) => {
    let text = '';
    subscriber.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    subscriber.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`clientdemo sub exited ${code}`))));
  });
  // Legacy subscriptions have no acknowledgement: wait until the subscriber logs it in place.
  await trio.subscriber.waitLog((l) => l.msg === 'subscribed' && l.pattern === 'demo.topic');
  const pub = await run(process.execPath, [demo, 'pub', 'demo.topic', 'hello', 'from', 'demo', ...common, ...urls]);
  t.equal(pub.stderr, '');
  t.match(await out, '<[demo.topic] hello from demo');
});
