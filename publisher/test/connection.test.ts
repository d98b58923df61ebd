/**
 * The per-socket handler alone, with a fake socket and a fake queue: what needs exact control
 * of bufferedAmount or of the append outcome. The real-socket behaviour is in v1/legacy tests.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { ProtocolError, V1_PROTOCOL, createMetrics, type AppendRequest, type Principal } from '@wsq/core';
import { logSink } from '@wsq/core/testing';
import type { WebSocket } from 'ws';
import { handlePublishConnection, type PublishEnv } from '../src/connection.js';
import { publisherMetrics } from '../src/metrics.js';
import { metric, metricValue } from './helpers.js';

class FakeSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  /** Raw writes and closes in the order they happened. */
  readonly events: string[] = [];
  /** What was written to the socket under ws (only with `extensions` '', like a real one). */
  readonly written: Buffer[] = [];
  extensions: string | undefined;
  readonly _socket = {
    write: (chunk: Buffer): boolean => {
      this.written.push(Buffer.from(chunk));
      this.events.push('write');
      return true;
    },
  };
  closedWith: number | undefined;
  terminated = false;
  send(text: string): void {
    this.sent.push(text);
    this.bufferedAmount += text.length;
  }
  close(code: number): void {
    this.events.push(`close ${code}`);
    this.closedWith = code;
    this.readyState = 2;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
    this.emit('close', 1006, Buffer.alloc(0));
  }
  text(s: string): void {
    this.emit('message', Buffer.from(s), false);
  }
}

const alice: Principal = { name: 'alice', publish: ['chat.>'], subscribe: [] };

type Append = (m: AppendRequest) => Promise<number>;

/** The text frames in raw socket writes (server frames: unmasked, lengths below 65 536). */
function framesIn(chunks: readonly Buffer[]): string[] {
  const all = Buffer.concat(chunks);
  const texts: string[] = [];
  for (let p = 0; p < all.length;) {
    if (all[p] !== 0x81) throw new Error(`not a final text frame at ${p}`);
    const short = all[p + 1]!;
    const [length, start] = short === 126 ? [all.readUInt16BE(p + 2), p + 4] : [short, p + 2];
    texts.push(all.toString('utf8', start, start + length));
    p = start + length;
  }
  return texts;
}

const opsOf = (texts: readonly string[]): string[] => texts.map((s) => (JSON.parse(s) as { op: string }).op);

function setup(
  protocol: string,
  over: Partial<PublishEnv['limits']> = {},
  append?: Append,
  socket: { extensions?: string } = {},
) {
  const sink = logSink('publisher');
  const metrics = publisherMetrics(createMetrics('publisher', { defaultMetrics: false }));
  const appended: AppendRequest[] = [];
  let accepting = true;
  const queue: Append =
    append ??
    ((m) => {
      appended.push(m);
      return Promise.resolve(appended.length);
    });
  const env: PublishEnv = {
    // The queue answers later, as the producer does; errors reach `done` as they were thrown.
    offer(m, done, c) {
      queue(m).then(
        (seq) => done(c, undefined, seq),
        (err: ProtocolError) => done(c, err, 0),
      );
      return undefined;
    },
    accepting: () => accepting,
    metrics,
    limits: { maxBufferedBytes: 1024, publishRatePerSec: 1000, publishBurst: 1000, ...over },
  };
  const ws = new FakeSocket();
  ws.extensions = socket.extensions;
  const ctx = { principal: alice, protocol, req: {} as IncomingMessage, log: sink.log, id: 'c1' };
  handlePublishConnection(ws as unknown as WebSocket, ctx, env);
  return { ws, metrics, appended, sink, stopAccepting: () => (accepting = false) };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('v1: a client that does not read its replies is closed with 1013 and counted', async (t) => {
  const { ws, metrics } = setup(V1_PROTOCOL);
  for (let i = 0; i < 30 && ws.closedWith === undefined; i++) ws.text('not json');
  t.equal(ws.closedWith, 1013);
  t.ok(ws.sent.length < 30, 'closed as soon as the limit passed');
  t.equal(await metricValue(metrics.closes, { reason: 'slow_consumer' }), 1);
  const before = ws.sent.length;
  ws.text('not json');
  t.equal(ws.sent.length, before, 'nothing more is sent to a closing socket');
});

t.test('v1: pid is the user and the id; no id, no pid', async (t) => {
  const { ws, appended } = setup(V1_PROTOCOL);
  ws.text('{"op":"pub","topic":"chat.eu","data":{"a":1},"id":"m1"}');
  ws.text('{"op":"pub","topic":"chat.eu","data":2}');
  await tick();
  t.equal(appended.length, 2);
  t.equal(appended[0]!.pid, 'alice\u0000m1');
  t.equal(appended[0]!.data, '{"a":1}');
  t.notOk('pid' in appended[1]!);
  t.same(
    ws.sent.map((s) => JSON.parse(s)),
    [{ op: 'ack', id: 'm1', seq: 1 }],
  );
});

const RAW = { extensions: '' };

t.test('v1: the replies of one tick leave in one write past ws, in order', async (t) => {
  const { ws } = setup(V1_PROTOCOL, {}, undefined, RAW);
  for (let i = 1; i <= 3; i++) ws.text(`{"op":"pub","topic":"chat.eu","data":${i},"id":"m${i}"}`);
  ws.text('not json');
  await tick();
  t.same(ws.events, ['write'], 'three acks and an error frame, one write');
  t.same(opsOf(framesIn(ws.written)), ['error', 'ack', 'ack', 'ack'], 'as whole text frames, in the order settled');
  t.same(JSON.parse(framesIn(ws.written)[1]!), { op: 'ack', id: 'm1', seq: 1 });
  t.same(ws.sent, [], 'nothing through ws.send');
  ws.text(`{"op":"pub","topic":"chat.eu","data":"${'x'.repeat(300)}","id":"m4"}`);
  ws.text(`{"op":"pub","topic":"chat.eu","data":5,"id":"${'i'.repeat(120)}"}`);
  await tick();
  t.same(ws.events, ['write', 'write'], 'a later tick writes on its own');
  t.same(
    JSON.parse(framesIn(ws.written.slice(1))[1]!),
    { op: 'ack', id: 'i'.repeat(120), seq: 5 },
    'a 126+ byte frame',
  );
});

t.test('v1: a close frame never overtakes the replies due before it', async (t) => {
  const { ws } = setup(V1_PROTOCOL, {}, undefined, RAW);
  ws.text('not json');
  ws.close(1001);
  t.same(ws.events, ['write', 'close 1001'], 'the gathered reply is written first');
  t.same(opsOf(framesIn(ws.written)), ['error']);
  await tick();
  t.same(ws.events, ['write', 'close 1001'], 'nothing is written after the close');
});

t.test('v1: replies gathered for a socket destroyed before the tick ends are dropped', async (t) => {
  const { ws } = setup(V1_PROTOCOL, {}, undefined, RAW);
  ws.text('not json');
  ws.readyState = 3;
  await tick();
  t.same(ws.written, []);
});

t.test('v1: gathered replies count as unsent: a client that does not read them is closed with 1013', async (t) => {
  const { ws, metrics } = setup(V1_PROTOCOL, {}, undefined, RAW);
  for (let i = 0; i < 30 && ws.closedWith === undefined; i++) ws.text('not json');
  t.equal(ws.closedWith, 1013, 'closed although ws itself holds nothing unsent');
  t.equal(await metricValue(metrics.closes, { reason: 'slow_consumer' }), 1);
  t.same(ws.events.slice(-2), ['write', 'close 1013'], 'what was gathered goes out before the close frame');
});

t.test('v1: an unexpected append failure answers INTERNAL and is logged', async (t) => {
  const { ws, sink } = setup(V1_PROTOCOL, {}, () => Promise.reject(new Error('boom')));
  ws.text('{"op":"pub","topic":"chat.eu","data":1,"id":"x"}');
  await tick();
  t.match(JSON.parse(ws.sent[0]!), { op: 'error', code: 'INTERNAL', id: 'x' });
  t.ok(sink.lines().some((l) => l.level === 'error'));
});

t.test('v1: a queue refusal keeps its code', async (t) => {
  const { ws, metrics } = setup(V1_PROTOCOL, {}, () => Promise.reject(new ProtocolError('TOO_LARGE', 'too big')));
  ws.text('{"op":"pub","topic":"chat.eu","data":1,"id":"x"}');
  await tick();
  t.match(JSON.parse(ws.sent[0]!), { op: 'error', code: 'TOO_LARGE', id: 'x' });
  t.equal(await metricValue(metrics.framesInvalid, { code: 'TOO_LARGE' }), 1);
});

t.test('while shutting down, v1 gets UNAVAILABLE and legacy frames are dropped', async (t) => {
  const v1 = setup(V1_PROTOCOL);
  v1.stopAccepting();
  v1.ws.text('{"op":"pub","topic":"chat.eu","data":1,"id":"x"}');
  t.match(JSON.parse(v1.ws.sent[0]!), { code: 'UNAVAILABLE', id: 'x' });
  t.equal(v1.appended.length, 0);
  const legacy = setup('');
  legacy.stopAccepting();
  legacy.ws.text('{"Topic":"chat.eu","Content":"x"}');
  t.equal(legacy.appended.length, 0);
  t.equal(legacy.ws.sent.length, 0);
  t.equal(await metricValue(legacy.metrics.drops, { reason: 'shutting_down' }), 1);
});

t.test('legacy: refusals are counted by code and never answered', async (t) => {
  const { ws, metrics, appended, sink } = setup('', { publishRatePerSec: 1, publishBurst: 1 });
  ws.text('nope');
  ws.emit('message', Buffer.from('{"Topic":"chat.eu","Content":"x"}'), true);
  ws.text('{"Topic":"bad topic","Content":"x"}');
  ws.text('{"Topic":"news","Content":"x"}');
  ws.text('{"Topic":"chat.eu","Content":"ok"}');
  ws.text('{"Topic":"chat.eu","Content":"over the rate"}');
  ws.text('{"Topic":"chat.eu","Content":"over the rate again"}');
  await tick();
  t.equal(ws.sent.length, 0);
  t.same(
    appended.map((m) => m.data),
    ['"ok"'],
  );
  t.equal(await metricValue(metrics.framesInvalid, { code: 'BAD_FRAME' }), 2);
  t.equal(await metricValue(metrics.framesInvalid, { code: 'BAD_TOPIC' }), 1);
  t.equal(await metricValue(metrics.framesInvalid, { code: 'FORBIDDEN' }), 1);
  t.equal(await metricValue(metrics.drops, { reason: 'rate_limited' }), 2);
  t.equal(await metricValue(metrics.drops, { reason: 'forbidden' }), 1, 'a forbidden message is a drop too');
  t.equal(await metricValue(metric(metrics, 'wsq_publisher_received_total'), { protocol: 'legacy' }), 7);
  const dropLogs = sink.lines().filter((l) => l.msg === 'message dropped');
  t.same(
    dropLogs.map((l) => [l.reason, l.level]),
    [
      ['forbidden', 'info'],
      ['rate_limited', 'info'],
      ['rate_limited', 'debug'],
    ],
    'the first drop of each kind at info, repeats at debug',
  );
});

t.test('legacy: an outbox-full refusal is a counted drop', async (t) => {
  const { ws, metrics } = setup('', {}, () => Promise.reject(new ProtocolError('UNAVAILABLE', 'full')));
  ws.text('{"Topic":"chat.eu","Content":"x"}');
  await tick();
  t.equal(ws.sent.length, 0);
  t.equal(await metricValue(metrics.drops, { reason: 'outbox_full' }), 1);
});

t.test('a socket closed for being slow is cut off if it ignores the close', async (t) => {
  const { ws } = setup(V1_PROTOCOL, { maxBufferedBytes: 1024, closeGraceMs: 20 });
  ws.bufferedAmount = 5000;
  ws.text('nope');
  t.equal(ws.closedWith, 1013);
  t.notOk(ws.terminated, 'the peer gets a chance to close cleanly');
  // The grace timer is unref'd (it must not keep a server alive); keep this process alive meanwhile.
  const keepAlive = setInterval(() => {}, 1000);
  await new Promise((resolve) => ws.once('close', resolve));
  clearInterval(keepAlive);
  t.ok(ws.terminated);
});
