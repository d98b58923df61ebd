/**
 * The browser platform (global WebSocket, tickets) in Node: ws's WebSocket class has the same
 * onopen/onmessage/onclose/onerror interface, so it stands in for the browser's, on a real
 * TLS server. Chromium runs the bundle itself in e2e/test/browser.test.ts.
 */
import t from 'tap';
import { WebSocket } from 'ws';
import { createBrowserPlatform, type BrowserWebSocketClass } from '../src/browser-platform.js';
import { connectWith } from '../src/client.js';
import { startFakeServer } from './helpers/fake-server.js';

function browserLike(ca: Buffer): BrowserWebSocketClass {
  const Class = class extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols, { ca });
    }
  };
  // ws types its handlers' events more precisely than the little the platform reads.
  return Class as unknown as BrowserWebSocketClass;
}

t.test('tickets on the URL, no Authorization header; publish and subscribe work', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  const sub = await startFakeServer(t, '/subscribe');
  const asked: string[] = [];
  const wsq = await connectWith(createBrowserPlatform(browserLike(pub.ca)), {
    publishUrl: pub.url,
    subscribeUrl: sub.url,
    ticket: async (url) => {
      asked.push(url);
      return 'good';
    },
  });
  t.teardown(() => wsq.close());
  t.same(asked.sort(), [pub.url, sub.url].sort(), 'one ticket per connection, for its URL');
  t.match(await pub.upgrades.next(), /^\/publish\?ticket=good$/);
  t.equal((await wsq.publish('a', 1)).seq, 1);
  const s = wsq.subscribe('a');
  const { ws } = await sub.frames.next();
  sub.send(ws, { op: 'msg', topic: 'a', seq: 1, data: 'x', ts: 0 });
  ws.send(Buffer.from([1, 2]), { binary: true }); // not wsq.v1: ignored
  const first = await s[Symbol.asyncIterator]().next();
  t.match(first.value, { seq: 1, data: 'x' });

  // A fresh ticket for every reconnect.
  const back = new Promise<void>((resolve) => wsq.on('state', (st) => st === 'open' && resolve()));
  ws.close(1001);
  await back;
  t.equal(asked.filter((u) => u === sub.url).length, 2);
});

t.test('a refused ticket upgrade looks like a network failure to a browser', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  await t.rejects(
    connectWith(createBrowserPlatform(browserLike(pub.ca)), { publishUrl: pub.url, ticket: async () => 'bad' }),
    { code: 'UNREACHABLE', closeCode: 1006 },
  );
  const failing = async (): Promise<string> => {
    throw new Error('ticket service down');
  };
  await t.rejects(connectWith(createBrowserPlatform(browserLike(pub.ca)), { publishUrl: pub.url, ticket: failing }), {
    code: 'UNREACHABLE',
    message: /ticket service down/,
  });
  await t.rejects(connectWith(createBrowserPlatform(), { publishUrl: pub.url }), { code: 'BAD_ARGUMENT' });
});

t.test('the connect timeout closes a browser socket that never opens', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  pub.stall = true;
  await t.rejects(
    connectWith(createBrowserPlatform(browserLike(pub.ca)), {
      publishUrl: pub.url,
      ticket: async () => 'good',
      connectTimeoutMs: 50,
    }),
    { code: 'CONNECT_TIMEOUT' },
  );
});
