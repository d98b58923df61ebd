import t from 'tap';
import { createBackoff } from '../src/backoff.js';
import { closeError, mapSocketError } from '../src/connection.js';
import { Emitter } from '../src/emitter.js';
import { CLIENT_CODES, httpError, isFatal, WsqError } from '../src/errors.js';
import { decodeServerFrame, encodePub, encodeSub, encodeUnsub } from '../src/frames.js';
import { base64Utf8, fetchTicket, httpBaseOf, withTicket } from '../src/tickets.js';
import { isValidPattern, isValidTopic, matchesPattern } from '../src/topics.js';

t.test('encoders write the frames of docs/protocol.md', async (t) => {
  t.equal(
    encodePub('chat.eu', { text: 'hi' }, 'm-1'),
    '{"op":"pub","topic":"chat.eu","data":{"text":"hi"},"id":"m-1"}',
  );
  t.equal(encodePub('n', 'x"y', 'i'), '{"op":"pub","topic":"n","data":"x\\"y","id":"i"}');
  t.throws(() => encodePub('n', undefined, 'i'), { code: 'BAD_ARGUMENT' });
  t.equal(encodeSub('a.*', 's1', undefined), '{"op":"sub","topic":"a.*","id":"s1"}');
  t.equal(encodeSub('a.*', 's1', 0), '{"op":"sub","topic":"a.*","id":"s1","since":0}');
  t.equal(encodeUnsub('a.*', 'u2'), '{"op":"unsub","topic":"a.*","id":"u2"}');
});

t.test('decodeServerFrame accepts every server frame and refuses the rest with PROTOCOL', async (t) => {
  const good: [string, unknown][] = [
    ['{"op":"ack","id":"a","seq":3}', { op: 'ack', id: 'a', seq: 3 }],
    [
      '{"op":"subscribed","id":"s1","topic":"a.*","seq":9,"recovered":false}',
      { op: 'subscribed', id: 's1', topic: 'a.*', seq: 9, recovered: false },
    ],
    ['{"op":"subscribed","topic":"a","seq":0}', { op: 'subscribed', topic: 'a', seq: 0, recovered: true }],
    ['{"op":"unsubscribed","id":"u","topic":"a"}', { op: 'unsubscribed', id: 'u', topic: 'a' }],
    ['{"op":"msg","topic":"a","seq":4,"data":null,"ts":5}', { op: 'msg', topic: 'a', seq: 4, data: null, ts: 5 }],
    [
      '{"op":"error","id":"x","code":"FORBIDDEN","message":"no"}',
      { op: 'error', id: 'x', code: 'FORBIDDEN', message: 'no' },
    ],
  ];
  for (const [text, want] of good) t.same(decodeServerFrame(text), want, text);
  const bad = [
    'nope',
    '[]',
    'null',
    '{"op":"ack","seq":1}',
    '{"op":"ack","id":"a","seq":-1}',
    '{"op":"ack","id":"a","seq":1.5}',
    '{"op":"subscribed","topic":"a","seq":1,"recovered":"yes"}',
    '{"op":"msg","topic":"a","seq":1,"ts":1}',
    '{"op":"error","code":"WHAT","message":"x"}',
    '{"op":"error","code":"INTERNAL","message":"x","id":7}',
    '{"op":"hello"}',
  ];
  for (const text of bad) t.throws(() => decodeServerFrame(text), { code: 'PROTOCOL' }, text);
});

t.test('topics and patterns follow the NATS rules', async (t) => {
  t.ok(isValidTopic('chat.eu'));
  t.notOk(isValidTopic('chat.*'));
  t.notOk(isValidTopic('a..b'));
  t.notOk(isValidTopic('a b'));
  t.notOk(isValidTopic('x'.repeat(256)));
  t.notOk(isValidTopic(7));
  t.ok(isValidPattern('chat.>'));
  t.ok(isValidPattern('*.x'));
  t.notOk(isValidPattern('a.>.b'));
  const table: [string, string, boolean][] = [
    ['chat.eu', 'chat.eu', true],
    ['chat.eu', 'chat.eu.fr', false],
    ['chat.*', 'chat.eu', true],
    ['chat.*', 'chat', false],
    ['chat.*.fr', 'chat.eu.fr', true],
    ['chat.*.fr', 'chat.eu', false],
    ['chat.>', 'chat.eu.fr', true],
    ['chat.>', 'chat', false],
    ['>', 'x', true],
  ];
  for (const [p, topic, want] of table) t.equal(matchesPattern(p, topic), want, `${p} ~ ${topic}`);
});

t.test('backoff doubles up to the ceiling with jitter, and resets', async (t) => {
  const top = createBackoff(100, 1000, () => 1);
  t.same([top.next(), top.next(), top.next(), top.next(), top.next()], [100, 200, 400, 800, 1000]);
  top.reset();
  t.equal(top.next(), 100);
  const bottom = createBackoff(100, 1000, () => 0);
  t.same([bottom.next(), bottom.next()], [100, 100]);
  const half = createBackoff(100, 1000, () => 0.5);
  half.next();
  t.equal(half.next(), 150);
  t.throws(() => createBackoff(10, 5));
});

t.test('errors: HTTP statuses, close codes, socket errors', async (t) => {
  t.match(httpError('x', 401), { code: 'UNAUTHORIZED', status: 401 });
  t.match(httpError('x', 403), { code: 'FORBIDDEN_ORIGIN', status: 403 });
  t.match(httpError('x', 503), { code: 'REJECTED', status: 503 });
  t.ok(isFatal(httpError('x', 401)));
  t.notOk(isFatal(httpError('x', 503)));
  t.match(closeError('subscriber', 1008, 'why', true), { code: 'POLICY', closeCode: 1008, endpoint: 'subscriber' });
  t.match(closeError('subscriber', 1009, '', true), { code: 'TOO_LARGE' });
  t.match(closeError('subscriber', 1007, '', true), { code: 'PROTOCOL' });
  t.match(closeError('subscriber', 1001, 'bye', true), { code: 'UNREACHABLE', closeCode: 1001 });
  t.match(closeError('subscriber', 1006, '', false), { code: 'UNREACHABLE' });
  const cert = Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  t.match(mapSocketError('subscriber', cert), {
    code: 'UNTRUSTED_CERT',
    endpoint: 'subscriber',
    detail: 'SELF_SIGNED_CERT_IN_CHAIN',
  });
  t.match(mapSocketError('subscriber', Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), {
    code: 'UNREACHABLE',
  });
  t.match(mapSocketError('subscriber', new Error('odd')), { code: 'UNREACHABLE', message: /odd/ });
  t.ok(new WsqError('CLOSED', 'x') instanceof Error);
});

t.test('emitter: on, off, count, a throwing listener does not stop the others', async (t) => {
  const e = new Emitter<{ x: [number] }>();
  const got: number[] = [];
  const off = e.on('x', (n) => got.push(n));
  e.on('x', () => {
    throw new Error('listener bug');
  });
  e.on('x', (n) => got.push(n * 10));
  const uncaught = new Promise<Error>((resolve) => {
    const original = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.once('uncaughtException', (err) => {
      for (const l of original) process.on('uncaughtException', l);
      resolve(err);
    });
  });
  e.emit('x', 1);
  t.same(got, [1, 10]);
  t.match((await uncaught).message, 'listener bug');
  off();
  t.equal(e.count('x'), 2);
  e.clear();
  t.equal(e.count('x'), 0);
});

t.test('ticket helpers', async (t) => {
  t.equal(base64Utf8('hello:test'), Buffer.from('hello:test').toString('base64'));
  t.equal(base64Utf8('é:ü'), Buffer.from('é:ü').toString('base64'));
  t.equal(httpBaseOf('wss://h:8082/subscribe?x=1'), 'https://h:8082');
  t.equal(httpBaseOf('ws://h:1/p'), 'http://h:1');
  t.equal(withTicket('wss://h/subscribe', 'a+b'), 'wss://h/subscribe?ticket=a%2Bb');

  const asked: { url: string; init: RequestInit }[] = [];
  const answer =
    (status: number, body: unknown) =>
    async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      asked.push({ url: String(url), init: init! });
      return new Response(JSON.stringify(body), { status });
    };
  t.equal(await fetchTicket('https://h:1', 'hello', 'test', answer(200, { ticket: 'T', expiresAt: 1 })), 'T');
  t.equal(asked[0]!.url, 'https://h:1/v1/tickets');
  t.match(asked[0]!.init, { method: 'POST', headers: { Authorization: 'Basic aGVsbG86dGVzdA==' } });
  await t.rejects(fetchTicket('https://h:1', 'a', 'b', answer(401, {})), { code: 'UNAUTHORIZED' });
  await t.rejects(fetchTicket('https://h:1', 'a', 'b', answer(403, {})), { code: 'FORBIDDEN_ORIGIN' });
  await t.rejects(fetchTicket('https://h:1', 'a', 'b', answer(200, {})), { code: 'PROTOCOL' });
  const down = async (): Promise<Response> => {
    throw new TypeError('fetch failed');
  };
  await t.rejects(fetchTicket('https://h:1', 'a', 'b', down), { code: 'UNREACHABLE' });
});

t.test("docs/client.md lists every one of the client's own error codes", async (t) => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../../docs/client.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `([A-Z_]+)` +\|/gm)].map((m) => m[1]);
  t.same(documented.sort(), Object.keys(CLIENT_CODES).sort());
});
