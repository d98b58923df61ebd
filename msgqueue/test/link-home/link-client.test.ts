/** The link client of core's link home, against the real msgqueue (through a relay where a test must see or cut the link). */
import t from 'tap';
import { createLinkClient, generateCerts, type LinkClientOptions } from '@wsq/core';
import { logSink, type Teardown } from '@wsq/core/testing';
import { linkOptions, recordStates, restartableQueue, startRelay } from '../helpers/link-home.js';

function link(t: Teardown, target: { url: string; ca: Buffer }, over: Partial<LinkClientOptions> = {}) {
  const states = recordStates();
  const sink = logSink();
  const opened: boolean[] = [];
  const client = createLinkClient(
    { ...linkOptions(target, { log: sink.log }), onState: states.onState, ...over },
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
  const q = await restartableQueue(t);
  const other = await generateCerts(1);
  const { client, states, sink } = link(t, q, { ca: Buffer.from(other.caCert) });
  t.match(await states.next('down'), /certificate not trusted/);
  t.match(await states.next('down'), /certificate not trusted/, 'and again after the backoff');
  await client.close();
  t.notOk(
    states.seen.some((s) => s.state === 'up'),
    'never up',
  );
  t.equal(await q.metric('wsq_connections_total', { path: '/pushmsg' }), 0, 'no WebSocket reached the queue');
  t.match(sink.text(), /certificate not trusted/, 'the reason is logged');
});

t.test('insecure: true connects to any certificate and says so loudly', async (t) => {
  const q = await restartableQueue(t);
  const other = await generateCerts(1);
  const { states, sink } = link(t, q, { ca: Buffer.from(other.caCert), insecure: true });
  await states.when('up');
  const warning = sink.lines().find((l) => /VERIFICATION .* DISABLED/.test(String(l.msg)));
  t.equal(warning?.level, 'warn');
});

t.test('wrong credentials: down with HTTP 401, and the password is never logged', async (t) => {
  const q = await restartableQueue(t);
  const { client, states, sink } = link(t, q, {
    password: 'not-the-password',
    url: q.url.replace('wss://', 'wss://hello:url-secret@'),
  });
  t.equal(await states.next('down'), 'HTTP 401');
  await client.close();
  t.notMatch(sink.text(), /not-the-password|url-secret/);
  t.match(sink.text(), /HTTP 401/);
});

t.test('a queue whose pongs stop coming is dropped and reconnected', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q, { autoPong: false });
  const { states } = link(t, relay, { pingIntervalMs: 20 });
  await states.when('up');
  t.equal(await states.next('down'), 'pong missed');
  await states.next('up');
  t.ok(relay.accepted >= 2);
});

t.test('reconnects after the queue restarts; legacy is detected per connection', async (t) => {
  const q = await restartableQueue(t);
  const { client, states, opened } = link(t, q);
  await states.when('up');
  const down = states.next('down');
  await q.stop();
  t.match(await down, /ECONNRESET|closed by the msgqueue|1001/);
  const up = states.next('up');
  await q.restart();
  await up;
  t.same(opened, [false, false]);
  t.equal(client.legacy, false);
  const drop = states.next('down');
  client.drop('test drop');
  t.equal(await drop, 'test drop');
  await states.next('up');
});

t.test('close() while up, while connecting and during the backoff leaves no timer or socket', async (t) => {
  const q = await restartableQueue(t);
  const relay = await startRelay(t, q);
  const before = handles();
  const noneLeft = (when: string) => {
    const now = handles();
    t.ok(now.timers <= before.timers, `${when}: no timer left (${now.timers} <= ${before.timers})`);
    t.ok(now.sockets <= before.sockets, `${when}: no socket left (${now.sockets} <= ${before.sockets})`);
  };

  const up = link(t, relay);
  await up.states.when('up');
  await up.client.close();
  t.equal(up.client.state, 'closed');
  t.equal(up.states.seen.at(-1)?.state, 'closed');
  await relay.waitFor(() => relay.connections === 0);
  noneLeft('while up');

  const connecting = link(t, relay);
  t.equal(connecting.client.state, 'connecting');
  await connecting.client.close();
  t.equal(connecting.client.state, 'closed');
  noneLeft('while connecting');

  const never = createLinkClient(linkOptions(relay), '/popmsg', { onOpen() {}, onFrame() {}, onDown() {} });
  await never.close();
  t.equal(never.state, 'closed', 'close() before start()');
  never.start();
  t.equal(never.state, 'closed', 'start() after close() does nothing');

  // Long backoff: the reconnect timer is surely pending when close() runs.
  const waiting = link(t, relay, { reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
  await waiting.states.when('up');
  const down = waiting.states.next('down');
  relay.cut();
  await down;
  await relay.waitFor(() => relay.connections === 0);
  // Only a microtask separates the two samples, so no other timer can come or go between them.
  const pending = handles().timers;
  await waiting.client.close();
  t.equal(handles().timers, pending - 1, 'the reconnect timer is cleared');
  t.equal(waiting.client.state, 'closed');
  await waiting.client.close(); // idempotent
  noneLeft('during the backoff');
});

t.test('a base URL with a path reaches a queue served under that prefix', async (t) => {
  const q = await restartableQueue(t);
  const proxy = await startRelay(t, q, { pathPrefix: '/some/path' });
  for (const url of [`${proxy.url}/some/path`, `${proxy.url}/some/path/`]) {
    const { client, states } = link(t, proxy, { url });
    await states.when('up');
    await client.close();
  }
  const { client, states } = link(t, proxy, { url: proxy.url });
  t.equal(await states.next('down'), 'HTTP 404', 'the proxy really serves only under its prefix');
  await client.close();
});
