import t from 'tap';
import { createLinkClient, describeLinkError, linkUrl, type LinkClientOptions } from '../src/queue/link/link-client.js';
import { generateCerts } from '../src/front/tls.js';
import {
  type StubQueue,
  type Teardown,
  logSink,
  recordStates,
  startStubQueue,
  stubLinkOptions,
} from './helpers/index.js';

function link(t: Teardown, stub: StubQueue, over: Partial<LinkClientOptions> = {}) {
  const states = recordStates();
  const sink = logSink();
  const opened: boolean[] = [];
  const client = createLinkClient(
    { ...stubLinkOptions(stub, { log: sink.log }), onState: states.onState, ...over },
    '/pushmsg',
    {
      onOpen(legacy) {
        opened.push(legacy);
        client.markUp();
      },
      onFrame() {},
      onDown() {},
    },
  );
  t.teardown(() => client.close());
  client.start();
  return { client, states, sink, opened };
}

/** Handles of the kinds a link owns: its timers and its TLS socket. */
function handles(): { timers: number; sockets: number } {
  const info = process.getActiveResourcesInfo();
  return { timers: info.filter((r) => r === 'Timeout').length, sockets: info.filter((r) => r === 'TLSWrap').length };
}

t.test('a certificate from an untrusted CA: down with the reason, never up', async (t) => {
  const stub = await startStubQueue(t);
  const other = await generateCerts(1);
  const { client, states, sink } = link(t, stub, { ca: Buffer.from(other.caCert) });
  t.match(await states.next('down'), /certificate not trusted/);
  t.match(await states.next('down'), /certificate not trusted/, 'and again after the backoff');
  await client.close();
  t.notOk(
    states.seen.some((s) => s.state === 'up'),
    'never up',
  );
  t.equal(stub.connections, 0);
  t.match(sink.text(), /certificate not trusted/, 'the reason is logged');
});

t.test('insecure: true connects to any certificate and says so loudly', async (t) => {
  const stub = await startStubQueue(t);
  const other = await generateCerts(1);
  const { states, sink } = link(t, stub, { ca: Buffer.from(other.caCert), insecure: true });
  await states.when('up');
  const warning = sink.lines().find((l) => /VERIFICATION .* DISABLED/.test(String(l.msg)));
  t.equal(warning?.level, 'warn');
});

t.test('wrong credentials: down with HTTP 401, and the password is never logged', async (t) => {
  const stub = await startStubQueue(t);
  const { client, states, sink } = link(t, stub, {
    password: 'not-the-password',
    url: stub.url.replace('wss://', 'wss://hello:url-secret@'),
  });
  t.equal(await states.next('down'), 'HTTP 401');
  await client.close();
  t.notMatch(sink.text(), /not-the-password|url-secret/);
  t.match(sink.text(), /HTTP 401/);
});

t.test('a queue that stops answering pings is dropped and reconnected', async (t) => {
  const stub = await startStubQueue(t, { autoPong: false });
  const { states } = link(t, stub, { pingIntervalMs: 20 });
  await states.when('up');
  t.equal(await states.next('down'), 'pong missed');
  await states.next('up');
  t.ok(stub.accepted >= 2);
});

t.test('reconnects after the queue restarts; legacy is detected per connection', async (t) => {
  const stub = await startStubQueue(t);
  const { client, states, opened } = link(t, stub);
  await states.when('up');
  const down = states.next('down');
  await stub.stop();
  t.match(await down, /ECONNRESET|closed by the msgqueue/);
  const up = states.next('up');
  await stub.restart();
  await up;
  t.same(opened, [false, false]);
  t.equal(client.legacy, false);
  const drop = states.next('down');
  client.drop('test drop');
  t.equal(await drop, 'test drop');
  await states.next('up');
});

t.test('close() while up, while connecting and during the backoff leaves no timer or socket', async (t) => {
  const stub = await startStubQueue(t);
  const before = handles();
  const noneLeft = (when: string) => {
    const now = handles();
    t.ok(now.timers <= before.timers, `${when}: no timer left (${now.timers} <= ${before.timers})`);
    t.ok(now.sockets <= before.sockets, `${when}: no socket left (${now.sockets} <= ${before.sockets})`);
  };

  const up = link(t, stub);
  await up.states.when('up');
  await up.client.close();
  t.equal(up.client.state, 'closed');
  t.equal(up.states.seen.at(-1)?.state, 'closed');
  await stub.waitFor(() => stub.connections === 0);
  noneLeft('while up');

  const connecting = link(t, stub);
  t.equal(connecting.client.state, 'connecting');
  await connecting.client.close();
  t.equal(connecting.client.state, 'closed');
  noneLeft('while connecting');

  const never = createLinkClient(stubLinkOptions(stub), '/popmsg', { onOpen() {}, onFrame() {}, onDown() {} });
  await never.close();
  t.equal(never.state, 'closed', 'close() before start()');
  never.start();
  t.equal(never.state, 'closed', 'start() after close() does nothing');

  // Long backoff: the reconnect timer is surely pending when close() runs.
  const waiting = link(t, stub, { reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
  await waiting.states.when('up');
  const down = waiting.states.next('down');
  await stub.stop();
  await down;
  // Only a microtask separates the two samples, so no other timer can come or go between them.
  const pending = handles().timers;
  await waiting.client.close();
  t.equal(handles().timers, pending - 1, 'the reconnect timer is cleared');
  t.equal(waiting.client.state, 'closed');
  await waiting.client.close(); // idempotent
  noneLeft('during the backoff');
});

t.test('linkUrl appends the link path to the base URL path, a prefix', async (t) => {
  const cases: [string, string][] = [
    ['wss://localhost:8080', 'wss://localhost:8080/pushmsg'],
    ['wss://localhost:8080/', 'wss://localhost:8080/pushmsg'],
    ['wss://gw.example/wsq', 'wss://gw.example/wsq/pushmsg'],
    ['wss://gw.example/some/path//', 'wss://gw.example/some/path/pushmsg'],
  ];
  for (const [base, want] of cases) t.equal(linkUrl(base, '/pushmsg'), want, base);
  t.equal(linkUrl('wss://gw.example/wsq/', '/popmsg'), 'wss://gw.example/wsq/popmsg');
});

t.test('a base URL with a path reaches a queue served under that prefix', async (t) => {
  const stub = await startStubQueue(t, { pathPrefix: '/some/path' });
  for (const url of [`${stub.url}/some/path`, `${stub.url}/some/path/`]) {
    const { client, states } = link(t, stub, { url });
    await states.when('up');
    await client.close();
  }
  const { client, states } = link(t, stub, { url: stub.url });
  t.equal(await states.next('down'), 'HTTP 404', 'the stub really serves only under its prefix');
  await client.close();
});

t.test('describeLinkError names certificate problems and falls back to the code', async (t) => {
  const e = (code: string | undefined, message = 'x') =>
    Object.assign(new Error(message), code === undefined ? {} : { code });
  t.match(describeLinkError(e('SELF_SIGNED_CERT_IN_CHAIN')), /^certificate not trusted/);
  t.match(describeLinkError(e('ERR_TLS_CERT_ALTNAME_INVALID')), /host name/);
  t.match(describeLinkError(e('CERT_HAS_EXPIRED')), /not valid now/);
  t.equal(describeLinkError(e('ECONNREFUSED')), 'ECONNREFUSED');
  t.equal(describeLinkError(e(undefined, 'Opening handshake has timed out')), 'Opening handshake has timed out');
});
