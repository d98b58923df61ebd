import { PassThrough } from 'node:stream';
import t from 'tap';
import { encodeLegacy, encodeMsg } from '@wsq/core';
import type { Teardown } from '@wsq/core/testing';
import { createClient, type Protocol } from '../src/client.js';
import { runRepl } from '../src/repl.js';
import { LineReader, startStubs } from './stubs.js';

async function setup(t: Teardown, protocol: Protocol) {
  const stubs = await startStubs(t);
  const client = createClient({
    publishUrl: stubs.publisher.url,
    subscribeUrl: stubs.subscriber.url,
    user: 'hello',
    password: 'test',
    ca: stubs.ca,
    protocol,
  });
  t.teardown(() => client.close());
  await client.connect();
  const input = new PassThrough();
  const output = new PassThrough();
  const lines = new LineReader(output);
  const done = runRepl({ client, input, output, greeting: 'hi' });
  const send = (line: string) => input.write(line + '\n');
  t.teardown(() => input.end());
  return { ...stubs, client, input, output, lines, done, send };
}

t.test('legacy: sub, publish with echo, delivery, unsub, exit closes both sockets', async (t) => {
  const s = await setup(t, 'legacy');
  t.equal(await s.lines.next(), 'hi');
  s.send('sub news');
  const sub = await s.subscriber.frames.next();
  t.equal(sub.text, '{"Topic":"news","Content":"sub"}');

  s.send('news hello world');
  t.equal((await s.publisher.frames.next()).text, '{"Topic":"news","Content":"hello world"}');
  t.equal(await s.lines.next(), '>[news] hello world');

  sub.ws.send(encodeLegacy('news', 'hello back'));
  t.equal(await s.lines.next(), '<[news] hello back');

  s.send('unsub news');
  t.equal((await s.subscriber.frames.next()).text, '{"Topic":"news","Content":"unsub"}');

  s.send('exit');
  t.equal(await s.done, 0);
  t.equal(await s.publisher.closes.next(), 1000);
  t.equal(await s.subscriber.closes.next(), 1000);
});

t.test('bad lines are reported and nothing is sent for them', async (t) => {
  const s = await setup(t, 'legacy');
  await s.lines.next(); // greeting
  s.send('a..b some text');
  t.match(await s.lines.next(), /^! not a valid topic/);
  s.send('news');
  t.match(await s.lines.next(), /^! usage: TOPIC message text/);
  s.send('sub bad.>.x');
  t.match(await s.lines.next(), /^! not a valid topic pattern/);
  s.send('');
  s.send('help');
  t.equal(await s.lines.next(), 'commands:');
  s.send('news  spaced   text');
  // The first frame the publisher sees is the valid one: the bad lines sent nothing.
  t.equal((await s.publisher.frames.next()).text, '{"Topic":"news","Content":"spaced   text"}');
  t.equal(s.subscriber.frames.size, 0);
  s.input.end();
  t.equal(await s.done, 0, 'end of input ends the REPL');
  t.equal(await s.publisher.closes.next(), 1000);
});

t.test('v1: pub frames with ids and acks, subscribed replies, msg deliveries, error frames', async (t) => {
  const s = await setup(t, 'v1');
  await s.lines.next(); // greeting
  s.send('sub news.*');
  const sub = await s.subscriber.frames.next();
  const subFrame = JSON.parse(sub.text) as Record<string, unknown>;
  t.match(subFrame, { op: 'sub', topic: 'news.*', id: String });
  t.equal(await s.lines.next(), 'subscribed to news.* (seq 0)');

  s.send('news.eu hello world');
  const pub = JSON.parse((await s.publisher.frames.next()).text) as Record<string, unknown>;
  t.match(pub, { op: 'pub', topic: 'news.eu', data: 'hello world', id: String });
  t.equal(await s.lines.next(), '>[news.eu] hello world');

  sub.ws.send(encodeMsg('news.eu', 7, '"hi there"', Date.now()));
  t.equal(await s.lines.next(), '<[news.eu] hi there');
  sub.ws.send(encodeMsg('news.us', 8, '{"a":1}', Date.now()));
  t.equal(await s.lines.next(), '<[news.us] {"a":1}');

  s.send('forbidden oops');
  t.equal(await s.lines.next(), '>[forbidden] oops');
  t.match(await s.lines.next(), /^! publisher: FORBIDDEN: /);

  s.send('unsub news.*');
  t.match(JSON.parse((await s.subscriber.frames.next()).text), { op: 'unsub', topic: 'news.*' });
  t.equal(await s.lines.next(), 'unsubscribed from news.*');

  s.send('exit');
  t.equal(await s.done, 0);
  t.equal(await s.subscriber.closes.next(), 1000);
});

t.test('a server closing the connection ends the REPL with 1', async (t) => {
  const s = await setup(t, 'legacy');
  await s.lines.next(); // greeting
  const ws = await s.subscriber.connections.next();
  ws.close(1001, 'server shutting down');
  t.match(await s.lines.next(), /^! the subscriber closed the connection \(1001 /);
  t.equal(await s.done, 1);
  t.equal(await s.publisher.closes.next(), 1000, 'the other socket is closed cleanly');
});

t.test('an aborted signal ends the REPL like exit', async (t) => {
  const stubs = await startStubs(t);
  const client = createClient({
    publishUrl: stubs.publisher.url,
    subscribeUrl: stubs.subscriber.url,
    user: 'hello',
    password: 'test',
    ca: stubs.ca,
    protocol: 'legacy',
  });
  t.teardown(() => client.close());
  await client.connect();
  const stop = new AbortController();
  const input = new PassThrough();
  t.teardown(() => input.end());
  const done = runRepl({ client, input, output: new PassThrough(), signal: stop.signal });
  stop.abort();
  t.equal(await done, 0);
  t.equal(await stubs.publisher.closes.next(), 1000);
});

t.test('colours only when asked', async (t) => {
  const s = await startStubs(t);
  const client = createClient({
    publishUrl: s.publisher.url,
    subscribeUrl: s.subscriber.url,
    user: 'hello',
    password: 'test',
    ca: s.ca,
    protocol: 'legacy',
  });
  t.teardown(() => client.close());
  await client.connect();
  const input = new PassThrough();
  const output = new PassThrough();
  const lines = new LineReader(output);
  const done = runRepl({ client, input, output, color: true, terminal: false });
  input.write('news hi\n');
  t.equal(await lines.next(), '\x1b[36m>[news] hi\x1b[0m');
  input.end();
  t.equal(await done, 0);
});

t.test('v1: a dropped subscriber connection is reconnected and the subscription resumed with since', async (t) => {
  const s = await setup(t, 'v1');
  await s.lines.next(); // greeting
  s.send('sub news');
  const sub = await s.subscriber.frames.next();
  t.equal(await s.lines.next(), 'subscribed to news (seq 0)');
  sub.ws.send(encodeMsg('news', 5, '"five"', Date.now()));
  t.equal(await s.lines.next(), '<[news] five');
  sub.ws.close(1001, 'server shutting down');
  t.match(await s.lines.next(), /^! connection lost; reconnecting/);
  const again = await s.subscriber.frames.next();
  t.match(JSON.parse(again.text), { op: 'sub', topic: 'news', since: 5 });
  t.equal(await s.lines.next(), 'reconnected');
  again.ws.send(encodeMsg('news', 5, '"five"', Date.now())); // already delivered: dropped
  again.ws.send(encodeMsg('news', 6, '"six"', Date.now()));
  t.equal(await s.lines.next(), '<[news] six');
  s.send('exit');
  t.equal(await s.done, 0);
});

t.test('v1: a close that retrying cannot fix (1008) ends the REPL with 1', async (t) => {
  const s = await setup(t, 'v1');
  await s.lines.next(); // greeting
  const ws = await s.publisher.connections.next();
  ws.close(1008, 'policy');
  t.match(await s.lines.next(), /^! the publisher closed the connection \(1008 policy violation/);
  t.equal(await s.done, 1);
});
