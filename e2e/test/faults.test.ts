/**
 * DESIGN section 4, proven by killing services: every acknowledged message reaches a v1
 * subscriber that resumes with `since`, exactly once and in order, across kill -9 of the
 * msgqueue, the subscriber and the publisher mid-stream.
 */
import t from 'tap';
import { connectClient, type Client } from './clients.js';
import { createTrio, type Trio } from './harness.js';

const TOTAL = 3000;
const WINDOW = 64;

/** A v1 publisher that re-sends its unacked ids after losing the publisher. */
class StreamingPublisher {
  private next = 0;
  readonly unacked = new Map<string, number>(); // id -> index, in send order
  readonly acked = new Map<string, number>(); // id -> seq
  private client: Client | undefined;
  onAck: (count: number) => void = () => undefined;

  constructor(private readonly trio: Trio) {}

  async connect(): Promise<void> {
    const client = await connectClient(this.trio.publishUrl(), this.trio.tls, { v1: true });
    this.client = client;
    client.ws.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as { op: string; id: string; seq: number };
      if (f.op !== 'ack') return;
      if (!this.acked.has(f.id)) this.acked.set(f.id, f.seq);
      this.unacked.delete(f.id);
      this.onAck(this.acked.size);
      this.pump();
    });
    // Re-send everything not acknowledged, in the original order, with the same ids.
    for (const [id, i] of this.unacked) this.send(id, i);
    this.pump();
  }

  private send(id: string, i: number): void {
    this.client!.ws.send(JSON.stringify({ op: 'pub', topic: 'load.stream', data: { i }, id }));
  }

  private pump(): void {
    const ws = this.client?.ws;
    while (ws && ws.readyState === ws.OPEN && this.unacked.size < WINDOW && this.next < TOTAL) {
      const id = `m${this.next}`;
      this.unacked.set(id, this.next);
      this.send(id, this.next++);
    }
  }

  get done(): boolean {
    return this.acked.size === TOTAL;
  }
}

/** A v1 subscriber that resumes with `since` after losing the subscriber service. */
class ResumingSubscriber {
  lastSeq = 0;
  readonly received: { seq: number; i: number }[] = [];
  onMessage: () => void = () => undefined;
  constructor(private readonly trio: Trio) {}

  async connect(): Promise<void> {
    const client = await connectClient(this.trio.subscribeUrl(), this.trio.tls, { v1: true });
    client.ws.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as { op: string; seq: number; data: { i: number } };
      if (f.op !== 'msg') return;
      this.received.push({ seq: f.seq, i: f.data.i });
      this.lastSeq = f.seq;
      this.onMessage();
    });
    client.ws.send(JSON.stringify({ op: 'sub', topic: 'load.>', since: this.lastSeq }));
  }
}

function reached(pub: StreamingPublisher, count: number): Promise<void> {
  return new Promise((resolve) => {
    const prev = pub.onAck;
    pub.onAck = (n) => {
      prev(n);
      if (n >= count) resolve();
    };
  });
}

t.test('kill -9 of msgqueue, subscriber and publisher mid-stream loses and duplicates nothing', async (t) => {
  const trio = await createTrio(t);
  await trio.subscriber.waitLog((l) => l.msg === 'msgqueue link up');
  const sub = new ResumingSubscriber(trio);
  await sub.connect();
  const pub = new StreamingPublisher(trio);

  const atQueueKill = reached(pub, 600);
  const atSubscriberKill = reached(pub, 1400);
  const atPublisherKill = reached(pub, 2200);
  await pub.connect();

  await atQueueKill;
  await trio.msgqueue.kill9();
  await trio.start('msgqueue');

  await atSubscriberKill;
  await trio.subscriber.kill9();
  await trio.start('subscriber');
  // A `since` resume before the new subscriber ever reached the msgqueue answers UNAVAILABLE.
  await trio.subscriber.waitLog((l) => l.msg === 'msgqueue link up');
  await sub.connect();

  await atPublisherKill;
  await trio.publisher.kill9();
  await trio.start('publisher');
  await pub.connect();

  await new Promise<void>((resolve) => {
    const check = () => {
      if (pub.done && sub.received.length >= TOTAL) resolve();
    };
    pub.onAck = check;
    sub.onMessage = check;
    check();
  });

  const seqs = sub.received.map((r) => r.seq);
  const indexes = sub.received.map((r) => r.i);
  t.equal(sub.received.length, TOTAL, 'every message exactly once');
  t.equal(new Set(indexes).size, TOTAL, 'no duplicate');
  t.ok(
    seqs.every((s, k) => k === 0 || s > seqs[k - 1]!),
    'seqs strictly increase',
  );
  t.ok(
    indexes.every((v, k) => v === k),
    'publish order kept',
  );
  for (const [id, seq] of pub.acked) {
    if (sub.received[Number(id.slice(1))]?.seq !== seq) {
      t.fail(`ack for ${id} said ${seq}`);
      break;
    }
  }
});
