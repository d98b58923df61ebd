import fc from 'fast-check';
import t from 'tap';
import { ClientPidIndex } from '../src/dedupe/client-pids.js';

/** What the index must behave like: the newest seq per pid, entries leaving from the front in remember order. */
class Model {
  readonly seqs = new Map<string, number>();
  /** Ring entries in order: pid, seq, at, and whether it is still the pid's newest. */
  readonly ring: { pid: string; seq: number; at: number; live: boolean }[] = [];

  private readonly newest = new Map<string, { live: boolean }>();

  remember(pid: string, seq: number, at: number): void {
    const old = this.newest.get(pid);
    if (old) old.live = false;
    const entry = { pid, seq, at, live: true };
    this.ring.push(entry);
    this.newest.set(pid, entry);
    this.seqs.set(pid, seq);
  }

  dropFront(): boolean {
    const e = this.ring.shift()!;
    if (e.live) {
      this.seqs.delete(e.pid);
      this.newest.delete(e.pid);
    }
    return e.live;
  }
}

const pidArb = fc.oneof(
  fc.integer({ min: 0, max: 60 }).map((n) => `alice\u0000${n}`),
  fc.integer({ min: 0, max: 20 }).map((n) => `bob\u0000é${n}✓`),
  fc.string({ maxLength: 6 }),
);

t.test('property: lookups, sizes and the front match a Map with a queue, through growth and shrinking', async (t) => {
  const op = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('remember' as const),
        pid: pidArb,
        times: fc.integer({ min: 1, max: 400 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('drop' as const), times: fc.integer({ min: 1, max: 600 }) }),
    },
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), (ops) => {
      const index = new ClientPidIndex();
      const model = new Model();
      let seq = 1;
      let at = 0;
      for (const o of ops) {
        if (o.kind === 'remember') {
          // One pid, then fresh ones: enough entries to make the ring grow past its first size.
          for (let k = 0; k < o.times; k++) {
            const pid = k === 0 ? o.pid : `${o.pid}#${seq}`;
            index.remember(pid, seq, at);
            model.remember(pid, seq, at);
            seq++;
            at += k % 3 === 0 ? 1 : 0;
          }
        } else {
          for (let k = 0; k < o.times && model.ring.length > 0; k++) {
            if (index.dropFront() !== model.dropFront()) return false;
          }
        }
        if (index.size !== model.seqs.size || index.entries !== model.ring.length) return false;
        if (index.frontAt !== (model.ring[0]?.at ?? Infinity)) return false;
      }
      for (const [pid, s] of model.seqs) if (index.lookup(pid) !== s) return false;
      for (const e of model.ring) if (index.lookup(e.pid) !== model.seqs.get(e.pid)) return false;
      for (const absent of ['alice\u0000999', 'nobody', '']) {
        if (index.lookup(absent) !== model.seqs.get(absent)) return false;
      }
      return true;
    }),
    { numRuns: 200 },
  );
  t.pass('property held');
});

t.test('a pid remembered again keeps its newest seq; its older entry leaves the front dead', async (t) => {
  const index = new ClientPidIndex();
  index.remember('u\u0000a', 1, 10);
  index.remember('u\u0000b', 2, 11);
  index.remember('u\u0000a', 3, 12);
  t.equal(index.lookup('u\u0000a'), 3);
  t.same([index.size, index.entries, index.frontAt], [2, 3, 10]);
  t.equal(index.dropFront(), false, 'the first entry of a was dead');
  t.equal(index.lookup('u\u0000a'), 3, 'dropping it forgets nothing');
  t.equal(index.dropFront(), true, 'b was live');
  t.equal(index.lookup('u\u0000b'), undefined);
  t.equal(index.dropFront(), true);
  t.same([index.size, index.entries, index.frontAt], [0, 0, Infinity]);
  t.equal(index.dropFront(), false, 'an empty ring has nothing to drop');
  t.same([index.size, index.entries], [0, 0]);
});

t.test('a hundred thousand pids: all found while held, none after they leave, memory given back', async (t) => {
  const index = new ClientPidIndex();
  const n = 100_000;
  for (let i = 0; i < n; i++) index.remember(`user\u0000${i}`, i + 1, i);
  let found = 0;
  for (let i = 0; i < n; i++) if (index.lookup(`user\u0000${i}`) === i + 1) found++;
  t.equal(found, n);
  for (let i = 0; i < n - 10; i++) index.dropFront();
  t.equal(index.size, 10);
  t.equal(index.lookup(`user\u0000${n - 11}`), undefined);
  t.equal(index.lookup(`user\u0000${n - 10}`), n - 9);
  t.ok((index as unknown as { slots: number }).slots <= 1024, 'the ring shrank back to its first size');
});

t.test('a table that lost a live entry fails loudly instead of probing forever', async (t) => {
  const index = new ClientPidIndex();
  index.remember('u\u0000a', 1, 0);
  (index as unknown as { table: Int32Array }).table.fill(-1);
  t.throws(() => index.dropFront(), /a live entry is missing from its table/);
});
