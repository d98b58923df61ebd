/**
 * @wsq/client against the real trio (DESIGN 4 and 9): an application that only uses the SDK
 * gets every acknowledged message exactly once and in order across kill -9 of the msgqueue,
 * the subscriber and the publisher; the SDK re-sends what the publisher had not acknowledged;
 * a resume that retention no longer covers raises a gap.
 */
import t from 'tap';
import { connect, type Message, type Wsq } from '@wsq/client';
import { createTrio, USERS, type Trio } from './harness.js';

const TOTAL = 2400;
/** Publishes in flight at once, so that every kill meets unacknowledged ones. */
const WINDOW = 64;
const FAST = { reconnectMinMs: 20, reconnectMaxMs: 300, ackTimeoutMs: 60_000 };

function sdk(trio: Trio, which: 'publish' | 'subscribe'): Promise<Wsq> {
  return connect({
    ...(which === 'publish' ? { publishUrl: trio.publishUrl() } : { subscribeUrl: trio.subscribeUrl() }),
    user: 'alice',
    password: USERS.alice.password,
    ca: trio.tls.ca,
    ...FAST,
  });
}

t.test('kill -9 of msgqueue, subscriber and publisher: every acked message once, in order', async (t) => {
  const trio = await createTrio(t, { publisher: ['--publish-rate-per-sec', '1000000', '--publish-burst', '1000000'] });
  await trio.subscriber.waitLog((l) => l.msg === 'msgqueue link up');
  const subscriber = await sdk(trio, 'subscribe');
  t.teardown(() => subscriber.close());
  const publisher = await sdk(trio, 'publish');
  t.teardown(() => publisher.close());
  const subStates: string[] = [];
  subscriber.on('state', (s) => subStates.push(s));
  const pubStates: string[] = [];
  publisher.on('state', (s) => pubStates.push(s));

  // The application: a dozen lines on the SDK.
  const received: Message[] = [];
  let onReceived = (): void => undefined;
  const sub = subscriber.subscribe('load.>');
  void (async () => {
    for await (const m of sub) {
      received.push(m);
      onReceived();
    }
  })();

  const acked = new Map<number, number>(); // i -> seq
  let next = 0;
  let limit = 0;
  let inFlight = 0;
  let onAck = (): void => undefined;
  const pump = (): void => {
    while (inFlight < WINDOW && next < limit) {
      const i = next++;
      inFlight++;
      void publisher.publish('load.stream', { i }).then(({ seq }) => {
        inFlight--;
        acked.set(i, seq);
        onAck();
        pump();
      });
    }
  };
  /** Streams until `at` acks, with the limit MARGIN past it so a kill meets messages in flight. */
  const streamTo = (at: number): Promise<void> =>
    new Promise((resolve) => {
      onAck = () => {
        if (acked.size >= at) resolve();
      };
      limit = Math.min(TOTAL, at + 400);
      pump();
    });

  await streamTo(600);
  t.ok(publisher.pending > 0, `publishes in flight when the msgqueue dies (${publisher.pending})`);
  await trio.msgqueue.kill9();
  await trio.start('msgqueue');

  await streamTo(1200);
  await trio.subscriber.kill9();
  await trio.start('subscriber');

  await streamTo(1800);
  const unackedAtKill = publisher.pending;
  t.ok(unackedAtKill > 0, `unacknowledged publishes when the publisher dies (${unackedAtKill})`);
  await trio.publisher.kill9();
  await trio.start('publisher');

  await streamTo(TOTAL);
  await new Promise<void>((resolve) => {
    onReceived = () => {
      if (received.length >= TOTAL) resolve();
    };
    onReceived();
  });

  t.equal(acked.size, TOTAL, 'every publish acknowledged, the re-sent ones included');
  t.equal(received.length, TOTAL, 'every message exactly once');
  t.ok(
    received.every((m, k) => (m.data as { i: number }).i === k),
    'in publish order',
  );
  t.ok(
    received.every((m, k) => k === 0 || m.seq > received[k - 1]!.seq),
    'seqs strictly increase',
  );
  t.ok(
    received.every((m) => acked.get((m.data as { i: number }).i) === m.seq),
    'each delivery carries the seq its ack gave',
  );
  t.ok(subStates.includes('reconnecting') && subStates.at(-1) === 'open', 'the subscriber side reconnected');
  t.ok(pubStates.includes('reconnecting') && pubStates.at(-1) === 'open', 'the publisher side reconnected');
  t.ok(subscriber.reconnects >= 1 && publisher.reconnects >= 1);
});

t.test('a resume that retention no longer covers raises a gap event', async (t) => {
  const trio = await createTrio(t, {
    msgqueue: ['--segment-bytes', '4096', '--retain-messages', '20'],
    publisher: ['--publish-rate-per-sec', '1000000', '--publish-burst', '1000000'],
  });
  await trio.subscriber.waitLog((l) => l.msg === 'msgqueue link up');
  const publisher = await sdk(trio, 'publish');
  t.teardown(() => publisher.close());
  const text = 'x'.repeat(200);
  // In rounds, so that the journal writes many small batches and rolls its 4 KiB segments.
  let last = 0;
  for (let round = 0; round < 20; round++) {
    const acks = await Promise.all(
      Array.from({ length: 10 }, (_, i) => publisher.publish('gap.topic', { i: round * 10 + i, text })),
    );
    last = Math.max(last, ...acks.map((a) => a.seq));
  }

  const subscriber = await sdk(trio, 'subscribe');
  t.teardown(() => subscriber.close());
  const sub = subscriber.subscribe('gap.>', { since: 1 });
  const gap = await new Promise((resolve) => sub.on('gap', resolve));
  t.match(gap, { pattern: 'gap.>', since: 1, seq: last });
  const it = sub[Symbol.asyncIterator]();
  const first = await it.next();
  t.ok(first.value!.seq > 2, `the replay starts at the oldest retained message (${first.value!.seq})`);
});
