/**
 * POST /v1/messages in process, over an in-memory QueueProducer the test controls (it
 * journals, refuses or holds what is offered): answers, pids, limits, refusals.
 */
import { request } from 'node:https';
import t from 'tap';
import {
  ProtocolError,
  createMetrics,
  type AppendDone,
  type AppendRequest,
  type ProducerHooks,
  type QueueProducer,
} from '@wsq/core';
import { logSink, testTls, type Teardown } from '@wsq/core/testing';
import { publisherConfig } from '../src/options.js';
import { createPublisher } from '../src/service.js';
import { usersFile } from './helpers.js';

/** An outbox that journals each offer on the next turn, unless told to refuse or fail it. */
class MemoryProducer implements QueueProducer {
  state: 'up' | 'down' = 'up';
  readonly offered: AppendRequest[] = [];
  /** Refuse at once (outbox full). */
  refuseNow = false;
  /** Settle with this error instead of a seq. */
  failWith: ProtocolError | undefined;
  outboxDepth = 0;
  private seq = 0;
  private readonly pids = new Map<string, number>();
  offer<C>(msg: AppendRequest, done: AppendDone<C>, ctx: C): ProtocolError | undefined {
    if (this.refuseNow) return new ProtocolError('UNAVAILABLE', 'outbox full');
    this.offered.push(msg);
    const fail = this.failWith;
    setImmediate(() => {
      if (fail) return done(ctx, fail, 0);
      const known = msg.pid === undefined ? undefined : this.pids.get(msg.pid);
      const seq = known ?? ++this.seq;
      if (msg.pid !== undefined) this.pids.set(msg.pid, seq);
      done(ctx, undefined, seq);
    });
    return undefined;
  }
  append(): Promise<number> {
    return Promise.reject(new Error('not used'));
  }
  async close(): Promise<void> {}
}

async function start(t: Teardown, over: Record<string, unknown> = {}) {
  const tls = await testTls();
  const producer = new MemoryProducer();
  let hooks: ProducerHooks | undefined;
  const config = publisherConfig({
    port: 0,
    cert: tls.certPath,
    key: tls.keyPath,
    ca: tls.caPath,
    demo: true,
    queue: 'wss://localhost:1',
    drainTimeoutMs: 0,
    ...over,
  });
  const pub = await createPublisher(config, {
    log: logSink('publisher').log,
    metrics: createMetrics('publisher', { defaultMetrics: false }),
    queue: {
      where: 'memory',
      producer: (h) => {
        hooks = h;
        return producer;
      },
    },
  });
  const { port } = await pub.listen();
  hooks?.onState?.('up');
  t.teardown(() => pub.close());
  const post = (body: string, headers: Record<string, string> = {}, user = 'hello:test') =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown> }>(
      (resolve, reject) => {
        const req = request(
          `https://localhost:${port}/v1/messages`,
          {
            method: 'POST',
            ca: tls.ca,
            agent: false,
            headers: {
              authorization: 'Basic ' + Buffer.from(user).toString('base64'),
              'content-type': 'application/json',
              ...headers,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );
  return { pub, producer, post };
}

t.test('one message and a batch: 201 with seqs, pids as a v1 pub of the same user and id', async (t) => {
  const { producer, post } = await start(t);
  const one = await post('{"topic":"a.b","data":{"x":1},"id":"m-1"}');
  t.match(one, { status: 201, body: { seq: 1, topic: 'a.b', id: 'm-1' } });
  t.equal(one.headers.location, '/v1/messages?topic=a.b&since=0&limit=1');
  t.same(producer.offered[0], { topic: 'a.b', data: '{"x":1}', ts: producer.offered[0]!.ts, pid: 'hello\u0000m-1' });
  const again = await post('{"topic":"a.b","data":{"x":1}}', { 'idempotency-key': 'm-1' });
  t.equal(again.body.seq, 1, 'the same pid: the original seq');
  const batch = await post('[{"tag":"a","text":"t"},{"topic":"b","data":2,"id":"k"}]');
  t.match(batch, {
    status: 201,
    body: {
      messages: [
        { seq: 2, topic: 'a', id: null },
        { seq: 3, topic: 'b', id: 'k' },
      ],
    },
  });
});

t.test('refusals before the queue: media type, size, JSON, permission, rate', async (t) => {
  const users = await usersFile(t, { limited: { password: 'pw', publish: ['ok.>'] } });
  const { producer, post } = await start(t, { users, maxPayloadBytes: 1024, publishRatePerSec: 1, publishBurst: 2 });
  t.match(await post('{"topic":"a","data":1}', { 'content-type': 'text/plain' }), {
    status: 415,
    body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } },
  });
  const huge = await post(JSON.stringify({ topic: 'a', data: 'x'.repeat(2000) }));
  t.match(huge, { status: 413, body: { error: { code: 'TOO_LARGE' } } });
  t.equal(huge.headers.connection, 'close', 'the rest of the body is not read');
  t.match(await post('{"topic":'), { status: 400, body: { error: { code: 'BAD_FRAME' } } });
  t.match(await post('{"topic":"ok.a","data":1}', {}, 'limited:pw'), { status: 201 });
  t.match(await post('[{"topic":"ok.a","data":1},{"topic":"no","data":1}]', {}, 'limited:pw'), {
    status: 403,
    body: { error: { code: 'FORBIDDEN' } },
  });
  t.equal(producer.offered.length, 1, 'nothing of a refused batch was offered');
  t.match(await post('{"topic":"ok.a","data":2}', {}, 'limited:pw'), { status: 201 });
  const limited = await post('{"topic":"ok.a","data":3}', {}, 'limited:pw');
  t.match(limited, { status: 429, body: { error: { code: 'RATE_LIMITED' } } });
  t.ok(Number(limited.headers['retry-after']) >= 1);
  t.match(await post('{"topic":"a","data":1}'), { status: 201 }, 'another user has a bucket of its own');
  t.match(await post('[{"topic":"a","data":1},{"topic":"a","data":2},{"topic":"a","data":3}]'), { status: 429 });
});

t.test('refusals of the queue: outbox full, refused at once or later', async (t) => {
  const { producer, post } = await start(t, { outboxMessages: 2 });
  t.match(await post('[{"topic":"a","data":1},{"topic":"a","data":2},{"topic":"a","data":3}]'), {
    status: 503,
    body: { error: { code: 'UNAVAILABLE' } },
  });
  producer.refuseNow = true;
  const full = await post('{"topic":"a","data":1}');
  t.match(full, { status: 503, body: { error: { code: 'UNAVAILABLE' } } });
  t.equal(full.headers['retry-after'], '1');
  producer.refuseNow = false;
  producer.failWith = new ProtocolError('TOO_LARGE', 'the journal cannot hold it');
  t.match(await post('{"topic":"a","data":1}'), { status: 413, body: { error: { code: 'TOO_LARGE' } } });
});
