import t from 'tap';
import { freePort } from '@wsq/core';
import { createClient, type ClientOptions } from '../src/client.js';
import { splitArgv } from '../src/argv.js';
import { parseCommand } from '../src/commands.js';
import { ClientError } from '../src/errors.js';
import { OPTIONS } from '../src/options.js';
import { startStubs } from './stubs.js';

async function connectError(o: ClientOptions): Promise<ClientError> {
  const client = createClient(o);
  try {
    await client.connect();
  } catch (err) {
    if (err instanceof ClientError) return err;
    throw err;
  }
  await client.close();
  throw new Error('connect succeeded');
}

t.test('parseCommand', async (t) => {
  const cases: [string, unknown][] = [
    ['', { kind: 'empty' }],
    ['  exit ', { kind: 'exit' }],
    ['quit', { kind: 'exit' }],
    ['help', { kind: 'help' }],
    ['sub news', { kind: 'sub', patterns: ['news'] }],
    ['sub a.* b.>', { kind: 'sub', patterns: ['a.*', 'b.>'] }],
    ['unsub news', { kind: 'unsub', patterns: ['news'] }],
    ['news hello  world', { kind: 'pub', topic: 'news', text: 'hello  world' }],
    ['exit now', { kind: 'pub', topic: 'exit', text: 'now' }],
    ['sub', { kind: 'bad' }],
    ['sub a..b', { kind: 'bad' }],
    ['news', { kind: 'bad' }],
    ['news.* text', { kind: 'bad' }],
  ];
  for (const [line, want] of cases) t.match(parseCommand(line), want, JSON.stringify(line));
});

t.test('splitArgv separates command words from flags and their values', async (t) => {
  t.same(splitArgv(['--insecure', 'pub', '--user', 'bob', 'news', 'hi', 'there', '--json'], OPTIONS), {
    words: ['pub', 'news', 'hi', 'there'],
    flags: ['--insecure', '--user', 'bob', '--json'],
  });
  t.same(splitArgv(['sub', '--count=2', 'a', '--', '-x', '--user'], OPTIONS), {
    words: ['sub', 'a', '-x', '--user'],
    flags: ['--count=2'],
  });
  t.same(splitArgv([], OPTIONS), { words: [], flags: [] });
});

t.test('connection failures carry stable codes', async (t) => {
  const s = await startStubs(t);
  const base: ClientOptions = {
    publishUrl: s.publisher.url,
    subscribeUrl: s.subscriber.url,
    user: 'hello',
    password: 'test',
    ca: s.ca,
    protocol: 'legacy',
  };

  const wrong = await connectError({ ...base, password: 'nope' });
  t.equal(wrong.code, 'UNAUTHORIZED');
  t.equal(wrong.status, 401);
  t.match(wrong.message, /wrong user or password/);

  const untrusted = await connectError({ ...base, ca: undefined });
  t.equal(untrusted.code, 'UNTRUSTED_CERT');
  t.match(untrusted.message, /--ca/);

  const port = await freePort();
  const refused = await connectError({ ...base, publishUrl: `wss://localhost:${port}/publish` });
  t.equal(refused.code, 'REFUSED');
  t.match(refused.message, /is the service running\?/);

  const notFound = await connectError({ ...base, publishUrl: s.publisher.url.replace('/publish', '/nope') });
  t.equal(notFound.code, 'REJECTED');
  t.equal(notFound.status, 404);

  // A failed connect closes the socket that did open.
  t.equal(await s.subscriber.closes.next(), 1000);
});

t.test('--insecure skips verification', async (t) => {
  const s = await startStubs(t);
  const client = createClient({
    publishUrl: s.publisher.url,
    subscribeUrl: s.subscriber.url,
    user: 'hello',
    password: 'test',
    insecure: true,
    protocol: 'legacy',
  });
  t.teardown(() => client.close());
  await client.connect();
  await client.publish('news', 'x');
  t.equal((await s.publisher.frames.next()).text, '{"Topic":"news","Content":"x"}');
});

t.test('v1 requests: ack seq, idempotency id, timeout, not connected', async (t) => {
  const s = await startStubs(t);
  const client = createClient({
    publishUrl: s.publisher.url,
    subscribeUrl: s.subscriber.url,
    user: 'hello',
    password: 'test',
    ca: s.ca,
    protocol: 'v1',
    replyTimeoutMs: 50,
  });
  t.teardown(() => client.close());
  await t.rejects(client.publish('news', 'early'), { code: 'NOT_CONNECTED' });
  await client.connect({ publish: true });
  const r = await client.publish('news', 'one', { id: 'my-id' });
  t.same({ id: r.id, seq: r.seq }, { id: 'my-id', seq: 1 });
  t.match(JSON.parse((await s.publisher.frames.next()).text), { op: 'pub', id: 'my-id', data: 'one' });
  await t.rejects(client.publish('silent', 'never acked'), { code: 'TIMEOUT' });
  await t.rejects(client.publish('forbidden', 'x'), { code: 'SERVER_ERROR', detail: 'FORBIDDEN' });
  await t.rejects(client.subscribe('news'), { code: 'NOT_CONNECTED' }, 'only the publisher was opened');
});

t.test('v1 reconnects after 1011 and re-sends the unacked publish with its id', async (t) => {
  const s = await startStubs(t);
  const client = createClient({
    publishUrl: s.publisher.url,
    subscribeUrl: s.subscriber.url,
    user: 'hello',
    password: 'test',
    ca: s.ca,
    protocol: 'v1',
  });
  t.teardown(() => client.close());
  await client.connect({ publish: true });
  const states: string[] = [];
  client.on('state', (st) => states.push(st));
  const closes: number[] = [];
  client.on('close', (_endpoint, code) => closes.push(code));
  const pending = client.publish('silent', 'x', { id: 'keep' });
  const failed = t.rejects(pending, { code: 'CLOSED' });
  const first = await s.publisher.frames.next();
  first.ws.close(1011);
  const again = await s.publisher.frames.next();
  t.not(again.ws, first.ws, 'on a new connection');
  t.match(JSON.parse(again.text), { op: 'pub', id: 'keep', data: 'x' });
  t.same(states, ['reconnecting', 'open']);
  await client.close();
  await failed;
  t.same(closes, [], 'a retried close is no reason to give up');
});
