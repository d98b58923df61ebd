/**
 * The conformance suite, part 2: DESIGN section 4 proven by breaking things. kill -9
 * mid-stream of acknowledged v1 publishes loses and duplicates nothing (each part's process
 * in turn: in the trio one service, in wsq-server the whole process), a stalled reader is
 * closed with 1013 while a healthy one receives everything, SIGTERM closes clients with 1001
 * and exits 0.
 */
import t from 'tap';
import type { WebSocket } from 'ws';
import { connectClient, nextWhere, type Client } from '../clients.js';
import type { Part, Topology, TopologyEntry } from '../topology.js';

const TOTAL = 3000;
const WINDOW = 64;
/** How far past a kill point the stream may run before the restart: below the gaps between kills. */
const MARGIN = 400;

function closed(ws: WebSocket | undefined): Promise<void> {
  if (!ws || ws.readyState === ws.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.once('close', () => resolve()));
}

/**
 * A v1 publisher that re-sends its unacked ids after losing its connection. It publishes up
 * to `limit` (raised by the test at each kill point), so a kill always lands while up to
 * WINDOW messages are in flight, however fast the host finishes the rest.
 */
class StreamingPublisher {
  private next = 0;
  private limit = 0;
  readonly unacked = new Map<string, number>(); // id -> index, in send order
  readonly acked = new Map<string, number>(); // id -> seq
  private client: Client | undefined;
  onAck: (count: number) => void = () => undefined;

  constructor(private readonly topo: Topology) {}

  async connect(): Promise<void> {
    await closed(this.client?.ws);
    const client = await connectClient(this.topo.publishUrl(), this.topo.tls, { v1: true });
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

  close(): void {
    this.client?.ws.terminate();
  }

  private send(id: string, i: number): void {
    this.client!.ws.send(JSON.stringify({ op: 'pub', topic: 'load.stream', data: { i }, id }));
  }

  /** Lets the stream go on up to message `limit` (exclusive). */
  allowUpTo(limit: number): void {
    this.limit = Math.min(limit, TOTAL);
    this.pump();
  }

  private pump(): void {
    const ws = this.client?.ws;
    while (ws && ws.readyState === ws.OPEN && this.unacked.size < WINDOW && this.next < this.limit) {
      const id = `m${this.next}`;
      this.unacked.set(id, this.next);
      this.send(id, this.next++);
    }
  }

  get done(): boolean {
    return this.acked.size === TOTAL;
  }
}

/** A v1 subscriber that resumes with `since` after losing its connection. */
class ResumingSubscriber {
  lastSeq = 0;
  readonly received: { seq: number; i: number }[] = [];
  private client: Client | undefined;
  onMessage: () => void = () => undefined;
  constructor(private readonly topo: Topology) {}

  async connect(): Promise<void> {
    await closed(this.client?.ws);
    const client = await connectClient(this.topo.subscribeUrl(), this.topo.tls, { v1: true });
    this.client = client;
    client.ws.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as { op: string; seq: number; data: { i: number } };
      if (f.op !== 'msg') return;
      this.received.push({ seq: f.seq, i: f.data.i });
      this.lastSeq = f.seq;
      this.onMessage();
    });
    client.ws.send(JSON.stringify({ op: 'sub', topic: 'load.>', since: this.lastSeq }));
  }

  close(): void {
    this.client?.ws.terminate();
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

export function faultsSuite(entry: TopologyEntry): void {
  t.test(
    `conformance on ${entry.name}: kill -9 mid-stream loses and duplicates nothing`,
    { skip: entry.skip },
    async (t) => {
      // Rate limits are not what this test is about: a refused RATE_LIMITED message re-sent later
      // would rightly land after the ones sent behind it.
      const topo = await entry.start(t, {
        publisher: ['--publish-rate-per-sec', '1000000', '--publish-burst', '1000000'],
      });
      const sub = new ResumingSubscriber(topo);
      await sub.connect();
      t.teardown(() => sub.close());
      const pub = new StreamingPublisher(topo);
      await pub.connect();
      t.teardown(() => pub.close());

      /**
       * Streams until `at` messages are acknowledged and returns with the stream still going:
       * the limit lies MARGIN past `at`, so the kill that follows at once meets up to WINDOW
       * messages in flight, and the next phase starts only after the restart.
       */
      const streamTo = async (at: number): Promise<void> => {
        const acked = reached(pub, at);
        pub.allowUpTo(at + MARGIN);
        await acked;
        t.ok(pub.unacked.size > 0, `messages in flight when the kill lands (${pub.unacked.size} after ${at} acks)`);
      };

      const kills: [number, Part][] = [
        [600, 'queue'],
        [1400, 'subscriber'],
        [2200, 'publisher'],
      ];
      for (const [at, part] of kills) {
        await streamTo(at);
        const down = await topo.crash(part);
        if (down.includes('subscriber')) {
          // A `since` resume before the new subscriber reached the queue answers UNAVAILABLE.
          await topo.consuming();
          await sub.connect();
        }
        if (down.includes('publisher')) await pub.connect();
      }
      pub.allowUpTo(TOTAL);

      await new Promise<void>((resolve) => {
        const check = (): void => {
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
    },
  );

  t.test(
    `conformance on ${entry.name}: a stalled reader is closed with 1013, a healthy one gets everything`,
    { skip: entry.skip },
    async (t) => {
      // Kernel socket buffers on loopback absorb several MiB before the server's own buffer grows,
      // so the stream is larger than those: 400 messages of 40 KB.
      const topo = await entry.start(t, {
        subscriber: ['--max-buffered-bytes', String(512 * 1024)],
        publisher: ['--outbox-bytes', String(64 * 1024 * 1024)],
      });
      const healthy = await connectClient(topo.subscribeUrl(), topo.tls, { v1: true });
      t.teardown(() => healthy.ws.close());
      const stalled = await connectClient(topo.subscribeUrl(), topo.tls, { v1: true });
      for (const c of [healthy, stalled]) c.ws.send(JSON.stringify({ op: 'sub', topic: 'big', id: 's' }));
      await nextWhere(healthy.reader, (f) => f.op === 'subscribed');
      await nextWhere(stalled.reader, (f) => f.op === 'subscribed');
      // Stop reading from the socket: the kernel buffers fill, then the server's send buffer grows.
      stalled.ws.pause();

      const pub = await connectClient(topo.publishUrl(), topo.tls, { v1: true });
      t.teardown(() => pub.ws.close());
      // Read the stalled socket again as soon as the subscriber has given up on it: its close
      // frame sits behind what the kernel buffered, and must arrive within the close grace.
      const kicked = topo
        .proc('subscriber')
        .waitLog((l) => l.reason === 'slow_consumer')
        .then(() => {
          stalled.ws.resume();
          return stalled.reader.waitClose();
        });
      const payload = 'x'.repeat(40_000);
      const COUNT = 400;
      // In batches the healthy reader takes in before the next one: a batch (400 KB) stays below its
      // 512 KiB limit even with no kernel buffer between, so it is healthy however slowly this test
      // process runs on a loaded machine, while the stalled reader's backlog grows past the limit.
      const BATCH = 10;
      const got: number[] = [];
      for (let first = 0; first < COUNT; first += BATCH) {
        for (let i = first; i < first + BATCH; i++)
          pub.ws.send(JSON.stringify({ op: 'pub', topic: 'big', data: { i, payload }, id: `b${i}` }));
        while (got.length < first + BATCH) {
          const f = await nextWhere(healthy.reader, (m) => m.op === 'msg');
          got.push((f.data as { i: number }).i);
        }
      }
      t.same(got, [...Array(COUNT).keys()], 'healthy reader got every message in order');
      t.equal((await kicked).code, 1013, 'stalled reader closed with 1013');
    },
  );

  t.test(
    `conformance on ${entry.name}: SIGTERM closes clients with 1001 and exits 0`,
    { skip: entry.skip },
    async (t) => {
      const topo = await entry.start(t);
      const sub = await connectClient(topo.subscribeUrl(), topo.tls, { v1: true });
      const pub = await connectClient(topo.publishUrl(), topo.tls, { v1: true });
      sub.ws.send(JSON.stringify({ op: 'sub', topic: 'x', id: 's' }));
      await nextWhere(sub.reader, (f) => f.op === 'subscribed');
      pub.ws.send(JSON.stringify({ op: 'pub', topic: 'x', data: 1, id: 'a' }));
      await nextWhere(pub.reader, (f) => f.op === 'ack');
      await nextWhere(sub.reader, (f) => f.op === 'msg');
      const [codes, pubClose, subClose] = await Promise.all([
        topo.terminate(),
        pub.reader.waitClose(),
        sub.reader.waitClose(),
      ]);
      t.equal(pubClose.code, 1001, 'publishing client closed with 1001');
      t.equal(subClose.code, 1001, 'subscribing client closed with 1001');
      t.ok(codes.length > 0 && codes.every((c) => c === 0), `every process exits 0 (${codes.join(', ')})`);
    },
  );
}
