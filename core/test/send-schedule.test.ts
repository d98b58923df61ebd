import t from 'tap';
import { SendSchedule } from '../src/queue/send-schedule.js';

/** A schedule whose sends resolve `next()`; counts them. */
function watched(lingerMs: number) {
  let sends = 0;
  let wake: (() => void) | undefined;
  const s = new SendSchedule(lingerMs, () => {
    sends++;
    wake?.();
  });
  return {
    s,
    get sends() {
      return sends;
    },
    next: () => new Promise<void>((resolve) => (wake = resolve)),
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

t.test('no linger: one send at the end of the turn, however many offers', async (t) => {
  const w = watched(0);
  const sent = w.next();
  w.s.offered(false);
  w.s.offered(false);
  t.equal(w.sends, 0, 'not inside the turn');
  await sent;
  await nextTurn();
  t.equal(w.sends, 1);
});

t.test('a linger holds offers of later turns until its timer', async (t) => {
  const w = watched(40);
  const start = performance.now();
  const sent = w.next();
  for (let i = 0; i < 3; i++) {
    w.s.offered(false);
    t.ok(w.s.lingering);
    await nextTurn();
  }
  w.s.soon(); // an answer while lingering does not cut it short
  await nextTurn();
  t.equal(w.sends, 0);
  await sent;
  t.ok(performance.now() - start >= 35, 'after the linger');
  t.equal(w.sends, 1);
  t.notOk(w.s.lingering);
});

t.test('a full batch, or soon(force), goes at the end of the turn despite a linger', async (t) => {
  const w = watched(60_000);
  w.s.offered(false);
  let sent = w.next();
  w.s.offered(true);
  t.notOk(w.s.lingering, 'the timer gave way');
  await sent;
  t.equal(w.sends, 1);
  w.s.offered(false);
  sent = w.next();
  w.s.soon(true);
  await sent;
  t.equal(w.sends, 2);
  w.s.soon(); // no linger running: room again sends at the end of the turn
  sent = w.next();
  await sent;
  t.equal(w.sends, 3);
});

t.test('cancel drops what was scheduled', async (t) => {
  const w = watched(1);
  w.s.offered(false);
  w.s.cancel();
  t.notOk(w.s.lingering);
  // A second schedule with a longer linger fires after the first one's would have.
  const later = watched(30);
  const sent = later.next();
  later.s.offered(false);
  await sent;
  t.equal(w.sends, 0);
  const eager = watched(0);
  eager.s.offered(false);
  eager.s.cancel();
  await nextTurn();
  await nextTurn();
  t.equal(eager.sends, 0);
});
