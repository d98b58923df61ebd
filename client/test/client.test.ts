/**
 * The SDK's state machine against a small real TLS WebSocket server (helpers/fake-server.ts):
 * acks, error frames, bounds, timeouts, reconnects by close code, re-sends, resumes, gaps.
 */
import t from 'tap';
import type { WebSocket } from 'ws';
import type { Teardown } from '@wsq/core/testing';
import { freePort } from '@wsq/core';
import { connect, type NodeConnectOptions, type State, type Wsq } from '../src/index.js';
import { startFakeServer, type FakeServer } from './helpers/fake-server.js';

const FAST = { reconnectMinMs: 5, reconnectMaxMs: 20 };

async function open(t: Teardown, s: { pub?: FakeServer; sub?: FakeServer }, extra: Partial<NodeConnectOptions> = {}) {
  const ca = (s.pub ?? s.sub)!.ca;
  const wsq = await connect({
    publishUrl: s.pub?.url,
    subscribeUrl: s.sub?.url,
    user: 'u',
    password: 'p',
    ca,
    ...FAST,
    ...extra,
  });
  t.teardown(() => wsq.close());
  const states: State[] = [];
  wsq.on('state', (st) => states.push(st));
  return { wsq, states };
}

function nextState(wsq: Wsq, want: State): Promise<void> {
  return new Promise((resolve) => {
    const off = wsq.on('state', (s) => {
      if (s === want) {
        off();
        resolve();
      }
    });
  });
}

t.test('publish resolves with the seq of its ack; every publish carries an id', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  const { wsq } = await open(t, { pub });
  t.equal(wsq.state, 'open');
  const [a, b] = await Promise.all([wsq.publish('news.eu', { text: 'hi' }), wsq.publish('news.eu', 2, { id: 'mine' })]);
  t.same([a.seq, b.seq, b.id], [1, 2, 'mine']);
  const first = (await pub.frames.next()).f;
  t.match(first, { op: 'pub', topic: 'news.eu', data: { text: 'hi' }, id: a.id });
  t.ok(a.id.length > 5 && a.id.length <= 128);
  t.equal(pub.upgrades.all.length, 1);
});

t.test('bad arguments are refused before anything is sent', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  const { wsq } = await open(t, { pub });
  await t.rejects(wsq.publish('a.*', 1), { code: 'BAD_TOPIC' });
  await t.rejects(wsq.publish('a', 1, { id: '' }), { code: 'BAD_ARGUMENT' });
  await t.rejects(wsq.publish('a', undefined), { code: 'BAD_ARGUMENT' });
  t.throws(() => wsq.subscribe('a'), { code: 'BAD_ARGUMENT' }, 'no subscribeUrl');
  await t.rejects(connect({ subscribeUrl: pub.url }), { code: 'BAD_ARGUMENT' }, 'no credentials');
  await t.rejects(connect({ user: 'u', password: 'p' }), { code: 'BAD_ARGUMENT' }, 'no URL');
});

t.test('error frames reject with WsqError and their code; UNAVAILABLE is retried with the same id', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  let unavailable = 1;
  pub.onFrame = ({ ws, f }) => {
    if (f.topic === 'forbidden') {
      pub.send(ws, { op: 'error', id: f.id, code: 'FORBIDDEN', message: 'no' });
      return true;
    }
    if (f.topic === 'full' && unavailable-- > 0) {
      pub.send(ws, { op: 'error', id: f.id, code: 'UNAVAILABLE', message: 'outbox full' });
      return true;
    }
    return false;
  };
  const { wsq } = await open(t, { pub });
  const errors: string[] = [];
  wsq.on('error', (e) => errors.push(e.code));
  await t.rejects(wsq.publish('forbidden', 1), { name: 'WsqError', code: 'FORBIDDEN' });
  const r = await wsq.publish('full', 1, { id: 'again' });
  t.equal(r.id, 'again');
  const sent = pub.frames.all.filter((x) => x.f.id === 'again');
  t.equal(sent.length, 2, 'sent twice');
  // A stray error frame (no pending request) and a non-v1 frame reach the 'error' event.
  const ws = [...pub.open][0]!;
  pub.send(ws, { op: 'error', code: 'RATE_LIMITED', message: 'slow down' });
  ws.send('not json');
  await new Promise<void>((resolve) => {
    const off = wsq.on('error', () => {
      if (errors.length === 2) {
        off();
        resolve();
      }
    });
  });
  t.same(errors, ['RATE_LIMITED', 'PROTOCOL']);
});

t.test('maxPending bounds the publishes waiting for acks; each has an ack deadline', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  pub.onFrame = () => true; // never answers
  const { wsq } = await open(t, { pub }, { maxPending: 2, ackTimeoutMs: 50 });
  const a = wsq.publish('a', 1);
  const b = wsq.publish('a', 2, { id: 'b' });
  await t.rejects(wsq.publish('a', 3), { code: 'MAX_PENDING' });
  await t.rejects(wsq.publish('a', 4, { id: 'b' }), { code: 'BAD_ARGUMENT' }, 'an id already pending');
  t.equal(wsq.pending, 2);
  await t.rejects(a, { code: 'ACK_TIMEOUT' });
  await t.rejects(b, { code: 'ACK_TIMEOUT' });
  t.equal(wsq.pending, 0);
});

t.test('a wrong password rejects connect with UNAUTHORIZED and is not retried', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  await t.rejects(connect({ publishUrl: pub.url, user: 'u', password: 'wrong', ca: pub.ca }), {
    code: 'UNAUTHORIZED',
    status: 401,
  });
  pub.refuseWith = 503;
  await t.rejects(connect({ publishUrl: pub.url, user: 'u', password: 'p', ca: pub.ca }), {
    code: 'REJECTED',
    status: 503,
  });
  await t.rejects(connect({ publishUrl: pub.url, user: 'u', password: 'p' }), { code: 'UNTRUSTED_CERT' });
  t.equal(pub.upgrades.all.length, 2, 'one upgrade each (the untrusted one never got that far)');
});

t.test('when both first attempts fail, the failure retrying cannot fix is the one reported', async (t) => {
  const sub = await startFakeServer(t, '/subscribe');
  const port = await freePort();
  sub.stall = true;
  sub.refuseWith = 401;
  const connecting = connect({
    publishUrl: `wss://localhost:${port}/publish`, // nothing listens: refused at once
    subscribeUrl: sub.url,
    user: 'u',
    password: 'p',
    ca: sub.ca,
  });
  const rejected = t.rejects(connecting, { code: 'UNAUTHORIZED', endpoint: 'subscriber' });
  // The refused connection failed long before this upgrade got through TLS; now refuse it too.
  (await sub.held.next())();
  await rejected;
});

t.test('the connect timeout bounds an upgrade that never gets an answer', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  pub.stall = true;
  await t.rejects(connect({ publishUrl: pub.url, user: 'u', password: 'p', ca: pub.ca, connectTimeoutMs: 50 }), {
    code: 'CONNECT_TIMEOUT',
  });
});

for (const code of [1001, 1011, 1013]) {
  t.test(
    `after close ${code}: reconnects, re-sends unacked publishes with their ids, resumes with since`,
    async (t) => {
      const pub = await startFakeServer(t, '/publish');
      const sub = await startFakeServer(t, '/subscribe');
      let hold = false;
      pub.onFrame = () => hold; // while true: no acks
      const { wsq, states } = await open(t, { pub, sub });
      const s = wsq.subscribe('news.*');
      const got: number[] = [];
      s.on('message', (m) => got.push(m.seq));
      const subFrame = await sub.frames.next();
      t.notOk('since' in subFrame.f, 'a first subscription without since');
      sub.send(subFrame.ws, { op: 'msg', topic: 'news.eu', seq: 7, data: 'a', ts: 1 });
      sub.send(subFrame.ws, { op: 'msg', topic: 'other', seq: 8, data: 'x', ts: 1 });
      sub.send(subFrame.ws, { op: 'msg', topic: 'news.us', seq: 9, data: 'b', ts: 1 });
      await new Promise<void>((resolve) => s.on('message', (m) => m.seq === 9 && resolve()));

      hold = true;
      const p = wsq.publish('news.eu', 'unacked');
      const firstTry = await pub.frames.next();
      const reconnected = nextState(wsq, 'open');
      firstTry.ws.close(code, 'going');
      subFrame.ws.close(code, 'going');
      hold = false;
      const again = await pub.frames.next();
      t.equal(again.f.id, firstTry.f.id, 'the same id again');
      t.ok((await p).seq > 0);
      const resub = await sub.frames.next();
      t.match(resub.f, { op: 'sub', topic: 'news.*', since: 9 });
      // The resumed subscription drops what it already delivered.
      sub.send(resub.ws, { op: 'msg', topic: 'news.us', seq: 9, data: 'b', ts: 1 });
      sub.send(resub.ws, { op: 'msg', topic: 'news.eu', seq: 10, data: 'c', ts: 1 });
      await new Promise<void>((resolve) => s.on('message', (m) => m.seq === 10 && resolve()));
      await reconnected;
      t.same(got, [7, 9, 10]);
      t.same(states.slice(0, 1), ['reconnecting']);
      t.equal(states.at(-1), 'open');
      t.ok(wsq.reconnects >= 2);
    },
  );
}

t.test('1008 is not retried: the client closes, pending work fails, the error is reported', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  const sub = await startFakeServer(t, '/subscribe');
  pub.onFrame = () => true;
  const { wsq } = await open(t, { pub, sub });
  const s = wsq.subscribe('a');
  const subErrors: string[] = [];
  s.on('error', (e) => subErrors.push(e.code));
  const errors = new Promise<string>((resolve) => wsq.on('error', (e) => resolve(e.code)));
  const closed = nextState(wsq, 'closed');
  const p = wsq.publish('a', 1);
  (await pub.frames.next()).ws.close(1008, 'policy');
  t.equal(await errors, 'POLICY');
  await t.rejects(p, { code: 'POLICY' });
  await closed;
  t.equal(wsq.state, 'closed');
  t.same(subErrors, ['POLICY']);
  await t.rejects(wsq.publish('a', 2), { code: 'POLICY' });
  t.equal(pub.upgrades.all.length, 1, 'no reconnect');
});

t.test('a 401 on reconnect is final', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  const { wsq } = await open(t, { pub });
  const errors = new Promise<string>((resolve) => wsq.on('error', (e) => resolve(`${e.code} ${wsq.state}`)));
  pub.refuseWith = 401;
  (await pub.connections.next()).close(1001);
  t.equal(await errors, 'UNAUTHORIZED closed', 'reported once the client is closed');
});

t.test('network drops are retried with backoff until the server is back', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  const { wsq } = await open(t, { pub });
  pub.refuseWith = 503;
  const ws = await pub.connections.next();
  const back = nextState(wsq, 'open');
  ws.terminate();
  await pub.upgrades.next(); // the first connection's
  await pub.upgrades.next(); // refused with 503
  await pub.upgrades.next(); // refused again: still trying
  pub.refuseWith = undefined;
  await back;
  t.equal((await wsq.publish('a', 1)).seq, 1);
});

t.test('recovered:false raises a gap event; the subscription goes on', async (t) => {
  const sub = await startFakeServer(t, '/subscribe');
  sub.onFrame = ({ ws, f }) => {
    if (f.op !== 'sub') return false;
    sub.send(ws, { op: 'subscribed', id: f.id, topic: f.topic, seq: 50, recovered: false });
    sub.send(ws, { op: 'msg', topic: 'a', seq: 40, data: 1, ts: 1 });
    return true;
  };
  const { wsq } = await open(t, { sub });
  const s = wsq.subscribe('a', { since: 3 });
  t.match((await sub.frames.next()).f, { op: 'sub', since: 3 });
  const confirmed = new Promise((resolve) => s.on('subscribed', resolve));
  const gap = await new Promise((resolve) => s.on('gap', resolve));
  t.same(await confirmed, { seq: 50, recovered: false });
  t.same(gap, { pattern: 'a', since: 3, seq: 50 });
  const it = s[Symbol.asyncIterator]();
  t.match(await it.next(), { done: false, value: { seq: 40, topic: 'a', data: 1, ts: 1 } });
});

t.test('the async iterator: buffered, then ended by unsubscribe', async (t) => {
  const sub = await startFakeServer(t, '/subscribe');
  const { wsq } = await open(t, { sub });
  const s = wsq.subscribe('a.>');
  t.throws(() => wsq.subscribe('a.>'), { code: 'DUPLICATE_SUBSCRIPTION' });
  t.throws(() => wsq.subscribe('a..b'), { code: 'BAD_TOPIC' });
  t.throws(() => wsq.subscribe('b', { since: -1 }), { code: 'BAD_ARGUMENT' });
  const { ws } = await sub.frames.next();
  for (let seq = 1; seq <= 3; seq++) sub.send(ws, { op: 'msg', topic: 'a.b', seq, data: seq, ts: 0 });
  const seen: number[] = [];
  for await (const m of s) {
    seen.push(m.seq);
    if (m.seq === 3) break; // return() unsubscribes
  }
  t.same(seen, [1, 2, 3]);
  t.match((await sub.frames.next()).f, { op: 'unsub', topic: 'a.>' });
  t.ok(s.ended);
  t.same(await s[Symbol.asyncIterator]().next(), { value: undefined, done: true });
  await s.unsubscribe(); // twice is fine
});

t.test('a slow iterator: past maxBufferedMessages the client resubscribes from the last buffered seq', async (t) => {
  const sub = await startFakeServer(t, '/subscribe');
  const { wsq } = await open(t, { sub }, { maxBufferedMessages: 2 });
  const s = wsq.subscribe('a');
  const it = s[Symbol.asyncIterator]();
  const { ws } = await sub.frames.next();
  for (let seq = 1; seq <= 5; seq++) sub.send(ws, { op: 'msg', topic: 'a', seq, data: seq, ts: 0 });
  const first = await it.next(); // waits for the frames to arrive
  t.equal(first.value?.seq, 1);
  // 1 went to the waiting iterator, 2 and 3 fill the buffer, 4 and 5 are dropped.
  t.equal((await it.next()).value?.seq, 2);
  const third = it.next();
  t.equal((await third).value?.seq, 3);
  t.match((await sub.frames.next()).f, { op: 'unsub', topic: 'a' });
  const resub = await sub.frames.next();
  t.match(resub.f, { op: 'sub', topic: 'a', since: 3 });
  sub.send(resub.ws, { op: 'msg', topic: 'a', seq: 4, data: 4, ts: 0 });
  sub.send(resub.ws, { op: 'msg', topic: 'a', seq: 5, data: 5, ts: 0 });
  t.equal((await it.next()).value?.seq, 4);
  t.equal((await it.next()).value?.seq, 5);
});

t.test('subscribe UNAVAILABLE is asked again; FORBIDDEN ends the subscription with the error', async (t) => {
  const sub = await startFakeServer(t, '/subscribe');
  let first = true;
  sub.onFrame = ({ ws, f }) => {
    if (f.op === 'sub' && f.topic === 'later' && first) {
      first = false;
      sub.send(ws, { op: 'error', id: f.id, code: 'UNAVAILABLE', message: 'not linked yet' });
      return true;
    }
    if (f.op === 'sub' && f.topic === 'secret') {
      sub.send(ws, { op: 'error', id: f.id, code: 'FORBIDDEN', message: 'no' });
      return true;
    }
    return false;
  };
  const { wsq } = await open(t, { sub });
  const later = wsq.subscribe('later');
  const it = later[Symbol.asyncIterator]();
  await sub.frames.next();
  const again = await sub.frames.next();
  t.match(again.f, { op: 'sub', topic: 'later' });
  sub.send(again.ws, { op: 'msg', topic: 'later', seq: 1, data: 0, ts: 0 });
  t.equal((await it.next()).value?.seq, 1);

  const secret = wsq.subscribe('secret');
  const failed = secret[Symbol.asyncIterator]().next();
  await t.rejects(failed, { code: 'FORBIDDEN' });
  t.ok(secret.ended);
  t.doesNotThrow(() => wsq.subscribe('secret'), 'the pattern is free again');
});

t.test('close(): sockets closed with 1000, pending publishes fail with CLOSED, iterators end', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  const sub = await startFakeServer(t, '/subscribe');
  pub.onFrame = () => true;
  const { wsq, states } = await open(t, { pub, sub });
  const s = wsq.subscribe('a');
  const it = s[Symbol.asyncIterator]();
  const waiting = it.next();
  const p = wsq.publish('a', 1);
  const failed = t.rejects(p, { code: 'CLOSED' });
  await pub.frames.next();
  await wsq.close();
  await failed;
  t.same(await waiting, { value: undefined, done: true });
  t.equal(await pub.closes.next(), 1000);
  t.equal(await sub.closes.next(), 1000);
  t.equal(states.at(-1), 'closed');
  await t.rejects(wsq.publish('a', 1), { code: 'CLOSED' });
  t.throws(() => wsq.subscribe('b'), { code: 'CLOSED' });
  await wsq.close(); // twice is fine
});

t.test('close() while reconnecting cancels the backoff timer', async (t) => {
  const pub = await startFakeServer(t, '/publish');
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const { wsq } = await open(t, { pub }, { reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
  const ws: WebSocket = await pub.connections.next();
  const reconnecting = nextState(wsq, 'reconnecting');
  ws.close(1001);
  await reconnecting;
  const failed = t.rejects(wsq.publish('a', 1), { code: 'CLOSED' }); // kept for the next open
  t.ok(timers() > before, 'the backoff timer and the ack deadline are running');
  await wsq.close();
  await failed;
  t.equal(timers(), before, 'close() cleared every timer it started');
});
