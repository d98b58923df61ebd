/**
 * DESIGN 4.5 on a three-node JetStream cluster on loopback (--stream-replicas 3), with two
 * publishers and two subscriber instances on the same stream: kill -9 the stream's leader while
 * v1 clients publish with ids; every acknowledged message reaches both subscribers exactly once,
 * in per-topic order, and publishing resumes once a new leader is elected.
 */
import t from 'tap';
import { streamLeader, type FrameReader } from '@wsq/core/testing';
import { connectClient } from './clients.js';
import { status } from './prom.js';
import { jetstreamTopology } from './jetstream-topology.js';
import type { Trio } from './harness.js';

const topology = jetstreamTopology(3, 3);
const TOPICS = 4;
const WINDOW = 200;

/** Calls `onFrame` with every JSON frame until the socket closes. */
function readAll(reader: FrameReader, onFrame: (f: Record<string, unknown>) => void): void {
  void (async () => {
    for (;;) {
      let f: Record<string, unknown>;
      try {
        f = await reader.json();
      } catch {
        return;
      }
      onFrame(f);
    }
  })();
}

/** Something to wait for: `when(predicate)` resolves once the predicate holds after a `poke()`. */
function signal() {
  const waiters = new Set<() => void>();
  return {
    poke() {
      for (const w of [...waiters]) w();
    },
    when(pred: () => boolean): Promise<void> {
      return new Promise((resolve) => {
        const check = () => {
          if (pred()) {
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

/** A v1 client publishing k.<p>.<i % TOPICS> with ids, at most WINDOW unacknowledged. */
async function publisherClient(trio: Trio, p: number, changed: ReturnType<typeof signal>) {
  const c = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  const state = { sent: 0, acked: new Map<number, number>(), errors: [] as unknown[], stop: false, lastAckAt: 0 };
  const pump = () => {
    while (!state.stop && state.sent - state.acked.size < WINDOW) {
      const i = state.sent++;
      c.ws.send(JSON.stringify({ op: 'pub', topic: `k.${p}.${i % TOPICS}`, data: { p, i }, id: `p${p}-${i}` }));
    }
  };
  readAll(c.reader, (f) => {
    if (f.op === 'ack') {
      const i = Number(String(f.id).split('-')[1]);
      if (!state.acked.has(i)) state.acked.set(i, f.seq as number);
      state.lastAckAt = performance.now();
      pump();
    } else if (f.op === 'error') {
      state.errors.push(f);
    }
    changed.poke();
  });
  pump();
  return { c, state };
}

t.test(`${topology.name}: kill -9 the stream leader mid-stream`, { skip: topology.skip }, async (t) => {
  const d = await topology.start(t);
  const trios = [d.trio, await d.addTrio(t, 'e2e-subscriber-b')];
  await Promise.all(
    trios.flatMap((tr) => [
      tr.publisher.waitLog((l) => l.msg === 'linked to the msgqueue'),
      tr.subscriber.waitLog((l) => l.msg === 'JetStream stream checked: queue up'),
    ]),
  );
  const changed = signal();

  // One v1 client on each subscriber instance, subscribed to everything.
  const subs = await Promise.all(
    trios.map(async (tr) => {
      const c = await connectClient(tr.subscribeUrl(), tr.tls, { v1: true });
      t.teardown(() => c.ws.close());
      const got: { seq: number; topic: string; p: number; i: number }[] = [];
      c.ws.send(JSON.stringify({ op: 'sub', topic: '>', id: 's' }));
      const subscribed = new Promise<void>((resolve) => {
        readAll(c.reader, (f) => {
          if (f.op === 'subscribed') resolve();
          if (f.op === 'msg') {
            const data = f.data as { p: number; i: number };
            got.push({ seq: f.seq as number, topic: f.topic as string, p: data.p, i: data.i });
            changed.poke();
          }
        });
      });
      await subscribed;
      return got;
    }),
  );

  const pubs = await Promise.all(trios.map((tr, p) => publisherClient(tr, p, changed)));
  for (const pub of pubs) t.teardown(() => pub.c.ws.close());
  await changed.when(() => pubs.every((p) => p.state.acked.size >= 200));

  const leader = await streamLeader(d.nodes, 'WSQ');
  const victim = d.nodes.find((n) => n.name === leader);
  t.ok(victim, `the stream leader is one of ours (${leader})`);
  const downs = trios.map((tr) => tr.publisher.waitLog((l) => String(l.msg).includes('link down')));
  const ackedAtKill = pubs.map((p) => p.state.acked.size);
  const killedAt = performance.now();
  await victim!.kill9();

  // Publishing resumes after the election: both publishers get acks for new messages.
  await changed.when(() => pubs.every((p, k) => p.state.acked.size >= ackedAtKill[k]! + 200));
  const resumedAfterMs = Math.max(...pubs.map((p) => p.state.lastAckAt)) - killedAt;
  t.comment(`publishing resumed; ${Math.round(resumedAfterMs)} ms after the kill both had 200 more acks`);
  t.ok(resumedAfterMs < 30_000, 'publishing resumes within the leader election');
  // The gap showed: at least one publisher's readiness went down during the election.
  await Promise.race(downs);
  t.pass('a publisher reported the queue down during the election');

  for (const p of pubs) p.state.stop = true;
  await changed.when(() => pubs.every((p) => p.state.acked.size === p.state.sent));
  t.same(
    pubs.map((p) => p.state.errors),
    [[], []],
    'no publish was refused',
  );
  for (const tr of trios) t.equal(await status(tr.publisher, tr.tls, '/readyz'), 200, 'publisher ready again');

  const total = pubs.reduce((n, p) => n + p.state.acked.size, 0);
  const lastSeq = Math.max(...pubs.flatMap((p) => [...p.state.acked.values()]));
  await changed.when(() => subs.every((got) => got.length >= total && got[got.length - 1]!.seq >= lastSeq));
  subs.forEach((got, s) => {
    const keys = new Set(got.map((m) => `${m.p}-${m.i}`));
    t.equal(keys.size, got.length, `subscriber ${s}: no message twice`);
    t.equal(got.length, total, `subscriber ${s}: every acknowledged message (${total})`);
    let lost = 0;
    pubs.forEach((pub, p) => {
      for (const [i, seq] of pub.state.acked) {
        const m = got.find((x) => x.p === p && x.i === i);
        if (!m || m.seq !== seq) lost++;
      }
    });
    t.equal(lost, 0, `subscriber ${s}: 0 acknowledged messages lost (each with its acknowledged seq)`);
    const lastI = new Map<string, number>();
    let outOfOrder = 0;
    let prevSeq = 0;
    for (const m of got) {
      if ((lastI.get(m.topic) ?? -1) >= m.i) outOfOrder++;
      lastI.set(m.topic, m.i);
      if (m.seq <= prevSeq) outOfOrder++;
      prevSeq = m.seq;
    }
    t.equal(outOfOrder, 0, `subscriber ${s}: per-topic publish order and seq order kept`);
  });
});
