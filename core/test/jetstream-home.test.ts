/** The JetStream home against real nats-server processes (started here, on free ports). */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { ProtocolError } from '../src/protocol/errors.js';
import { jetstreamQueueHome, type JetStreamHomeConfig } from '../src/queue/jetstream/home.js';
import type { LinkState, QueueMessage } from '../src/queue/queue.js';
import { createMetrics } from '../src/observe/metrics.js';
import { logSink, natsSkip, startNats, testTls, type Teardown } from './helpers/index.js';

function config(url: string, over: Partial<JetStreamHomeConfig> = {}): JetStreamHomeConfig {
  return {
    queue: url,
    queueUser: undefined,
    queuePassword: undefined,
    queueToken: undefined,
    ca: '/nonexistent',
    insecure: false,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    pingIntervalMs: 5000,
    stream: 'WSQ',
    streamReplicas: 1,
    retainMessages: 0,
    retainBytes: 0,
    retainMs: 0,
    dedupeWindowMs: 120_000,
    consumerTtlMs: 60_000,
    ...over,
  };
}

/** Follows a side's state through its onState hook. */
function stateWatch() {
  let state: LinkState = 'connecting';
  const waiters = new Set<() => void>();
  return {
    onState(s: LinkState) {
      state = s;
      for (const w of [...waiters]) w();
    },
    get state() {
      return state;
    },
    reach(want: LinkState): Promise<void> {
      return new Promise((resolve) => {
        const check = () => {
          if (state === want) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

function openProducer(t: Teardown, home: ReturnType<typeof jetstreamQueueHome>, outboxMessages = 1000, lingerMs = 0) {
  const w = stateWatch();
  const p = home.producer({ outboxMessages, outboxBytes: 1 << 20, lingerMs, onState: (s) => w.onState(s) });
  t.teardown(() => p.close());
  return { p, w };
}

/** A started consumer and the messages it was handed, with a wait for a count of them. */
function openConsumer(t: Teardown, home: ReturnType<typeof jetstreamQueueHome>, name: string) {
  const w = stateWatch();
  const got: QueueMessage[] = [];
  const waiters = new Set<() => void>();
  const c = home.consumer({ name, window: 100, onState: (s) => w.onState(s) });
  t.teardown(() => c.close());
  c.start((batch) => {
    got.push(...batch);
    for (const f of [...waiters]) f();
  });
  const count = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (got.length >= n) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
    });
  return { c, w, got, count };
}

const msg = (topic: string, data: string, pid?: string) =>
  pid === undefined ? { topic, data, ts: 1_700_000_000_000 } : { topic, data, ts: 1_700_000_000_000, pid };

t.test('append, dedupe, consume, resume, replay, seqAtTime', natsSkip(), async (t) => {
  const node = await startNats(t);
  const { log } = logSink();
  const metrics = createMetrics('publisher', { defaultMetrics: false });
  const home = jetstreamQueueHome(config(node.url), log, { metrics });
  const { p, w } = openProducer(t, home);
  await w.reach('up');
  t.same(
    await Promise.all([p.append(msg('a.x', '1')), p.append(msg('a*b', '"2"')), p.append(msg('b.x', '3'))]),
    [1, 2, 3],
  );
  const first = await p.append(msg('a.y', '{"n":4}', 'alice\u0000r1'));
  t.equal(first, 4);
  t.equal(await p.append(msg('a.y', '{"n":4}', 'alice\u0000r1')), 4, 'a re-sent id gets the original seq');
  t.equal(p.outboxDepth, 0);
  t.match(await metrics.registry.metrics(), /wsq_queue_nats_connected 1/);

  const one = openConsumer(t, home, 'one');
  await one.count(4);
  t.same(
    one.got.map((m) => [m.seq, m.topic, m.data, m.ts]),
    [
      [1, 'a.x', '1', 1_700_000_000_000],
      [2, 'a*b', '"2"', 1_700_000_000_000],
      [3, 'b.x', '3', 1_700_000_000_000],
      [4, 'a.y', '{"n":4}', 1_700_000_000_000],
    ],
    'every message once, in seq order, topics escaped and back',
  );
  t.equal(one.c.lastSeq, 4);
  one.c.ack(2);
  await one.c.close();

  // The durable resumes after its acknowledged position; another name sees everything.
  await p.append(msg('a.z', '5'));
  const again = openConsumer(t, home, 'one');
  await again.count(3);
  t.same(
    again.got.map((m) => m.seq),
    [3, 4, 5],
    'resumes after the acknowledged seq',
  );
  const two = openConsumer(t, home, 'two');
  await two.count(5);
  t.match(
    await metrics.registry.metrics(),
    /wsq_queue_consumer_lag_messages\{consumer="two"[^}]*\} 0/,
    'lag by consumer',
  );
  t.same(
    two.got.map((m) => m.seq),
    [1, 2, 3, 4, 5],
  );

  // Replay by pattern, with limits.
  const r = await two.c.replay(1, 5, 'a.*', 100);
  t.same(
    r.messages.map((m) => m.seq),
    [1, 4, 5],
  );
  t.same({ firstSeq: r.firstSeq, more: r.more, next: r.next }, { firstSeq: 1, more: false, next: 6 });
  const lim = await two.c.replay(1, 5, undefined, 2);
  t.same(
    lim.messages.map((m) => m.seq),
    [1, 2],
  );
  t.same({ more: lim.more, next: lim.next }, { more: true, next: 3 });
  const literal = await two.c.replay(1, 5, 'a*b', 10);
  t.same(
    literal.messages.map((m) => m.topic),
    ['a*b'],
    'a literal token with * matches only itself',
  );
  const bounded = await two.c.replay(2, 3, '>', 10);
  t.same(
    bounded.messages.map((m) => m.seq),
    [2, 3],
    'nothing past `to`',
  );
  const none = await two.c.replay(7, 9, undefined, 10);
  t.same(none.messages, []);

  // seqAtTime: before everything, then after everything.
  t.equal(await two.c.seqAtTime(0), 1);
  t.equal(await two.c.seqAtTime(Date.now() + 60_000), 6, 'past the head: lastSeq + 1');
});

t.test('lingerMs: publishes of several turns wait for the timer, then go together', natsSkip(), async (t) => {
  const node = await startNats(t);
  const { log } = logSink();
  const home = jetstreamQueueHome(config(node.url), log);
  const { p, w } = openProducer(t, home, 1000, 50);
  await w.reach('up');
  const start = performance.now();
  const acks: Promise<number>[] = [];
  for (let i = 0; i < 3; i++) {
    acks.push(p.append(msg('a.x', String(i))));
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(p.outboxDepth, 3, 'all three wait');
  t.same(await Promise.all(acks), [1, 2, 3]);
  t.ok(performance.now() - start >= 45, 'sent after the linger');
});

t.test('retention cuts the head: firstSeq tells', natsSkip(), async (t) => {
  const node = await startNats(t);
  const { log } = logSink();
  const home = jetstreamQueueHome(config(node.url, { retainMessages: 3, stream: 'CUT' }), log);
  const { p, w } = openProducer(t, home);
  await w.reach('up');
  for (let i = 1; i <= 6; i++) await p.append(msg('t', String(i)));
  const { c } = openConsumer(t, home, 'late');
  const r = await c.replay(1, 6, undefined, 100);
  t.equal(r.firstSeq, 4, 'the oldest retained seq');
  t.same(
    r.messages.map((m) => m.seq),
    [4, 5, 6],
  );
});

t.test('outbox while NATS is down: UNAVAILABLE past it, delivered after it returns', natsSkip(), async (t) => {
  const node = await startNats(t);
  const { log } = logSink();
  const home = jetstreamQueueHome(config(node.url), log);
  const { p, w } = openProducer(t, home, 3);
  await w.reach('up');
  t.equal(await p.append(msg('t', '0')), 1);
  await node.kill9();
  await w.reach('down');
  const held = [p.append(msg('t', '1')), p.append(msg('t', '2')), p.append(msg('t', '3'))];
  await t.rejects(p.append(msg('t', '4')), new ProtocolError('UNAVAILABLE', 'the queue outbox is full'));
  t.equal(p.outboxDepth, 3);
  await node.restart();
  t.same(await Promise.all(held), [2, 3, 4], 'taken in order once NATS is back');
  await w.reach('up');
  t.equal(await p.append(msg('t', '5')), 5);
  await p.close();
  await t.rejects(p.append(msg('t', '6')), { code: 'UNAVAILABLE' }, 'closed');
});

t.test('a stream that does not fit the flags: an error naming the field, not up', natsSkip(), async (t) => {
  const node = await startNats(t);
  const nc = await connect({ servers: node.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'OTHER', subjects: ['wsq.>'], max_msgs: 10 });
  const sink = logSink();
  const home = jetstreamQueueHome(config(node.url, { stream: 'OTHER', retainMessages: 20 }), sink.log);
  const { p, w } = openProducer(t, home);
  await w.reach('down');
  // The error is logged before the state changes.
  const errors = () => sink.lines().filter((l) => l.level === 'error' || l.level === 50);
  t.match(String(errors()[0]!.msg), /stream OTHER: max_msgs is 10, but --retain-messages asks for 20/);
  t.equal(p.state, 'down');
  // Fixing the stream brings the queue up without a restart.
  await jsm.streams.update('OTHER', { max_msgs: 20 });
  await w.reach('up');
  t.equal(await p.append(msg('t', '1')), 1);
});

t.test('a stream shared with other subjects: their seqs are gaps the consumer reads past', natsSkip(), async (t) => {
  const node = await startNats(t);
  const nc = await connect({ servers: node.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'SHARED', subjects: ['wsq.>', 'other.>'], max_msgs: -1, duplicate_window: 120e9 });
  const js = jsm.jetstream();
  const { log } = logSink();
  const home = jetstreamQueueHome(config(node.url, { stream: 'SHARED' }), log);
  const { p, w } = openProducer(t, home);
  await w.reach('up');
  t.equal(await p.append(msg('a', '1')), 1);
  await js.publish('other.x', 'not ours');
  await js.publish('wsq.bad%', 'not a subject we write');
  t.equal(await p.append(msg('a', '4')), 4);
  const c = openConsumer(t, home, 'shared');
  await c.count(2);
  t.same(
    c.got.map((m) => [m.seq, m.data]),
    [
      [1, '1'],
      [4, '4'],
    ],
  );
  t.equal(await p.append(msg('a', '5')), 5);
  await c.count(3);
  t.equal(c.got[2]!.seq, 5, 'live after the gap');
});

t.test('tls:// verified against --ca, and token credentials', natsSkip(), async (t) => {
  const tls = await testTls();
  const node = await startNats(t, ['--tls', '--tlscert', tls.certPath, '--tlskey', tls.keyPath, '--auth', 's3cret']);
  const url = `tls://localhost:${node.port}`;
  const { log } = logSink();
  const good = jetstreamQueueHome(config(url, { ca: tls.caPath, queueToken: 's3cret' }), log);
  const { p, w } = openProducer(t, good);
  await w.reach('up');
  t.equal(await p.append(msg('t', '1')), 1, 'published over TLS with the token');

  const badToken = logSink();
  const refused = jetstreamQueueHome(config(url, { ca: tls.caPath, queueToken: 'wrong' }), badToken.log);
  const r = openProducer(t, refused);
  await r.w.reach('down');
  t.match(badToken.text(), /cannot connect to NATS/, 'a wrong token keeps it down, logged');

  // --insecure: no verification (the system CAs do not know the test CA).
  const insecure = jetstreamQueueHome(config(url, { insecure: true, queueToken: 's3cret' }), logSink().log);
  const i = openProducer(t, insecure);
  await i.w.reach('up');
  t.equal(await i.p.append(msg('t', '2')), 2);

  const unverified = logSink();
  const strict = jetstreamQueueHome(config(url, { ca: '/nonexistent', queueToken: 's3cret' }), unverified.log);
  t.throws(
    () => strict.producer({ outboxMessages: 1, outboxBytes: 1024 }),
    { field: 'ca', message: /cannot read/ },
    'an unreadable CA is a config error',
  );
});
