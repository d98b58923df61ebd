/**
 * Hostile input against the running trio: broken WebSocket frames, malformed wsq.v1 frames,
 * floods of failed logins and half-open upgrades, foreign origins and per-user limits. Every
 * test ends by proving that a normal client still connects and gets its message.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { upgradeStatus } from '@wsq/core/testing';
import { connectClient, nextWhere, type Client } from './clients.js';
import { createTrio, type Trio } from './harness.js';
import { frame, rawWebSocket } from './raw.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const HANDSHAKE_TIMEOUT_MS = 5000;
const edge = [
  '--handshake-timeout-ms',
  String(HANDSHAKE_TIMEOUT_MS),
  '--ping-interval-ms',
  '300',
  '--allowed-origins',
  'https://app.example.com,https://*.example.org',
];
const trio: Trio = await createTrio(t, {
  publisher: [...edge, '--publish-rate-per-sec', '1', '--publish-burst', '3'],
  subscriber: [...edge, '--max-connections-per-user', '6', '--max-subscriptions-per-connection', '3'],
});

let checks = 0;
/** A fresh v1 subscriber and publisher: subscribed, published, acked, delivered. */
async function roundtrip(t: Test): Promise<void> {
  const topic = `check.n${++checks}`;
  const sub = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  sub.ws.send(JSON.stringify({ op: 'sub', topic, id: 's' }));
  t.match(await sub.reader.json(), { op: 'subscribed', id: 's' }, 'a normal client still subscribes');
  const pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  // A fresh id each time: a re-sent id would be deduplicated (acked, not delivered again).
  pub.ws.send(JSON.stringify({ op: 'pub', topic, data: 'still here', id: topic }));
  const ack = await nextWhere(pub.reader, (f) => f.id === topic);
  t.match(ack, { op: 'ack' });
  t.match(await sub.reader.json(), { op: 'msg', topic, data: 'still here', seq: ack.seq }, 'and gets its message');
  await closeAll([pub, sub]);
}

async function closeAll(clients: Client[]): Promise<void> {
  for (const c of clients) c.ws.close();
  await Promise.all(clients.map((c) => c.reader.waitClose()));
}

function lengthHeader(length: bigint): Buffer {
  const b = Buffer.alloc(14);
  b[0] = 0x81;
  b[1] = 0x80 | 127;
  b.writeBigUInt64BE(length, 2);
  return b; // the 4 mask bytes stay zero
}

const BROKEN: [string, Buffer, number][] = [
  ['invalid UTF-8 in a text frame', frame(0x1, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 1007],
  ['garbage instead of a frame', Buffer.from('GARBAGE\r\n\r\n'), 1002],
  ['an unmasked client frame', frame(0x1, '{}', { mask: false }), 1002],
  ['a reserved opcode', frame(0x3, 'x'), 1002],
  ['RSV bits without an extension', frame(0x1, 'x', { rsv: 4 }), 1002],
  ['a fragmented ping', frame(0x9, 'x', { fin: false }), 1002],
  ['a control frame over 125 bytes', frame(0x9, 'x'.repeat(200)), 1002],
  ['a continuation with nothing to continue', frame(0x0, 'x'), 1002],
  ['a 2^40-byte length', lengthHeader(2n ** 40n), 1009],
  ['a length over 2^53', lengthHeader(2n ** 63n), 1009],
  ['a message over the default --max-payload-bytes (64 KiB)', frame(0x1, 'x'.repeat(65537)), 1009],
];

t.test('broken frames close the connection with the right code', async (t) => {
  for (const [service, url] of [
    ['publisher', trio.publishUrl()],
    ['subscriber', trio.subscribeUrl()],
  ] as const) {
    for (const [what, bytes, code] of BROKEN) {
      const raw = await rawWebSocket(url, { ca: trio.tls.ca, user: 'alice', password: 'alice-secret' });
      raw.sock.write(bytes);
      t.equal(await raw.closed, code, `${service}: ${what} closes with ${code}`);
    }
    // A header cut short, then the end of the stream: the server closes too.
    const cut = await rawWebSocket(url, { ca: trio.tls.ca, user: 'alice', password: 'alice-secret' });
    cut.sock.end(Buffer.from([0x81]));
    await cut.closed;
    t.pass(`${service}: a truncated header followed by EOF is closed`);
    // A header cut short, then silence: the heartbeat finds a peer that does not answer pings.
    const silent = await rawWebSocket(url, { ca: trio.tls.ca, user: 'alice', password: 'alice-secret' });
    silent.sock.write(Buffer.from([0x81, 0xfe]));
    await silent.closed;
    t.pass(`${service}: a truncated header followed by silence is closed`);
  }
  await roundtrip(t);
});

const MALFORMED: [string, string | Buffer, string][] = [
  ['not JSON', '{"op":"pub",', 'BAD_FRAME'],
  ['a JSON array', '[1,2,3]', 'BAD_FRAME'],
  ['a JSON string', '"pub"', 'BAD_FRAME'],
  ['an unknown op', '{"op":"delete","topic":"a"}', 'BAD_FRAME'],
  ['no op', '{"topic":"a"}', 'BAD_FRAME'],
  ['a number as topic', '{"op":"sub","topic":42}', 'BAD_FRAME'],
  ['an over-long topic', JSON.stringify({ op: 'sub', topic: 'a.'.repeat(128) + 'a' }), 'BAD_TOPIC'],
  ['an empty topic token', '{"op":"sub","topic":"a..b"}', 'BAD_TOPIC'],
  ['an over-long id', JSON.stringify({ op: 'sub', topic: 'a', id: 'i'.repeat(129) }), 'BAD_FRAME'],
  ['a number as id', '{"op":"sub","topic":"a","id":7}', 'BAD_FRAME'],
  ['a negative since', '{"op":"sub","topic":"a","since":-1}', 'BAD_FRAME'],
  ['a string since', '{"op":"sub","topic":"a","since":"5"}', 'BAD_FRAME'],
  ['a binary frame', Buffer.from('{"op":"sub","topic":"a"}'), 'BAD_FRAME'],
];

t.test('every malformed wsq.v1 frame gets exactly one error frame; the connection stays open', async (t) => {
  // The publisher: each refused frame answers one error, then a valid pub is acked.
  const pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  const toPublisher: [string, string | Buffer, string][] = [
    ...MALFORMED.filter(([what]) => !what.includes('since')),
    ['a pub without data', '{"op":"pub","topic":"a"}', 'BAD_FRAME'],
    ['a pattern as pub topic', '{"op":"pub","topic":"a.*","data":1}', 'BAD_TOPIC'],
    ['a sub sent to the publisher', '{"op":"sub","topic":"a","id":"wrong-place"}', 'BAD_FRAME'],
  ];
  for (const [, text] of toPublisher) pub.ws.send(text);
  pub.ws.send(JSON.stringify({ op: 'pub', topic: 'hostile.ok', data: 1, id: 'fine' }));
  for (const [what, , code] of toPublisher)
    t.match(await pub.reader.json(), { op: 'error', code }, `publisher: ${what}`);
  t.match(await pub.reader.json(), { op: 'ack', id: 'fine' }, 'publisher: the next valid frame is acked');

  const sub = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  const toSubscriber: [string, string | Buffer, string][] = [
    ...MALFORMED,
    ['a pub sent to the subscriber', '{"op":"pub","topic":"a","data":1}', 'BAD_FRAME'],
  ];
  for (const [, text] of toSubscriber) sub.ws.send(text);
  sub.ws.send(JSON.stringify({ op: 'sub', topic: 'hostile.quiet', id: 'fine' }));
  for (const [what, , code] of toSubscriber)
    t.match(await sub.reader.json(), { op: 'error', code }, `subscriber: ${what}`);
  t.match(await sub.reader.json(), { op: 'subscribed', id: 'fine' }, 'subscriber: the next valid frame is answered');
  t.equal(pub.reader.pending + sub.reader.pending, 0, 'one error frame each, no more');
  await closeAll([pub, sub]);
  await roundtrip(t);
});

t.test('hundreds of failed logins and half-open upgrades do not keep others out', async (t) => {
  const FAILED = 100;
  const HALF_OPEN = 100;
  const started = Date.now();
  // The attacker runs in its own process, from 127.0.0.2 and 127.0.0.3, each password different
  // (so no check can be shared): 100 failed logins and 100 half-open upgrades per service.
  const plan = {
    urls: [trio.publishUrl(), trio.subscribeUrl()],
    caPath: trio.tls.caPath,
    logins: FAILED,
    halfOpen: HALF_OPEN,
  };
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // tap's loaders would only slow the attacker's start
  const attacker = spawn(process.execPath, [join(HERE, 'flood.js'), JSON.stringify(plan)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  t.teardown(() => attacker.kill('SIGKILL'));
  const lines = createInterface({ input: attacker.stdout })[Symbol.asyncIterator]();
  t.equal((await lines.next()).value, 'launched');
  // Meanwhile a normal client logs in for the first time (nothing cached) and gets its message.
  await roundtrip(t);
  t.pass(`a normal client got through during the flood, ${Date.now() - started} ms after it began`);

  const result = JSON.parse(String((await lines.next()).value)) as { statuses: number[]; halfOpenClosed: number };
  const counts = new Map<number, number>();
  for (const s of result.statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  t.equal(result.statuses.length, 2 * FAILED);
  t.notOk(counts.has(101), 'no guess got in');
  // 401 once checked; 503 past the source's share of password checks; 0 (cut off) when the
  // attacker's own TLS handshake did not finish within --handshake-timeout-ms under the load.
  t.ok(
    [...counts.keys()].every((s) => s === 401 || s === 503 || s === 0),
    `every failed login was refused: ${JSON.stringify([...counts])}`,
  );
  t.ok((counts.get(401) ?? 0) > 0, 'the first guesses were checked and refused with 401');
  t.equal(result.halfOpenClosed, 2 * HALF_OPEN, 'every half-open upgrade was closed by the servers');
  t.ok(Date.now() - started >= HANDSHAKE_TIMEOUT_MS, 'not before --handshake-timeout-ms');
  await roundtrip(t);
});

t.test('origins: a foreign Origin gets 403, an allowed one or none passes', async (t) => {
  const alice = { ca: trio.tls.ca, user: 'alice', password: 'alice-secret' };
  for (const url of [trio.publishUrl(), trio.subscribeUrl()]) {
    const status = async (origin?: string) =>
      (await upgradeStatus(url, { ...alice, ...(origin ? { headers: { origin } } : {}) })).status;
    t.equal(await status('https://evil.example.net'), 403);
    t.equal(await status('https://example.org'), 403, 'the wildcard needs a subdomain');
    t.equal(await status('http://app.example.com'), 403, 'the scheme counts');
    t.equal(await status('https://app.example.com'), 101);
    t.equal(await status('https://eu.example.org'), 101);
    t.equal(await status(), 101, 'no Origin (not a browser) passes');
  }
  await roundtrip(t);
});

t.test('limits: connections per user (503), subscriptions per connection, publish rate', async (t) => {
  const alice = { ca: trio.tls.ca, user: 'alice', password: 'alice-secret' };
  const held: Client[] = [];
  for (let i = 0; i < 6; i++) held.push(await connectClient(trio.subscribeUrl(), trio.tls, { v1: true }));
  t.equal((await upgradeStatus(trio.subscribeUrl(), alice)).status, 503, 'the 7th connection of one user');
  const sub = held[0]!;
  for (const topic of ['l.a', 'l.b', 'l.c', 'l.d']) sub.ws.send(JSON.stringify({ op: 'sub', topic, id: topic }));
  for (const topic of ['l.a', 'l.b', 'l.c']) t.match(await sub.reader.json(), { op: 'subscribed', id: topic });
  t.match(await sub.reader.json(), { op: 'error', id: 'l.d', code: 'LIMIT_EXCEEDED' });
  await closeAll(held);

  const pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  for (let i = 0; i < 4; i++) pub.ws.send(JSON.stringify({ op: 'pub', topic: 'l.rate', data: i, id: `r${i}` }));
  const replies = [await pub.reader.json(), await pub.reader.json(), await pub.reader.json(), await pub.reader.json()];
  t.match(
    replies.find((f) => f.id === 'r3'),
    { op: 'error', code: 'RATE_LIMITED' },
    'past the burst of 3',
  );
  t.equal(replies.filter((f) => f.op === 'ack').length, 3);
  await closeAll([pub]);
  await roundtrip(t);
});
