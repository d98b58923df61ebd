/** turnNow / turnDateNow: one clock reading per event-loop callback, fresh after its microtasks. */
import t from 'tap';
import { turnDateNow, turnNow } from '../src/observe/turn-clock.js';

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

t.test('one reading per callback: the clocks stand still until the microtasks run', async (t) => {
  await null;
  const mono = turnNow();
  const wall = turnDateNow();
  spin(3);
  t.equal(turnNow(), mono, 'performance.now() read once');
  t.equal(turnDateNow(), wall, 'Date.now() read once');
  t.ok(performance.now() - mono >= 3, 'while the real clock moved on');
  await null;
  t.ok(turnNow() >= mono + 3, 'after the microtasks: a fresh reading');
  t.ok(turnDateNow() >= wall + 2, 'for both clocks');
});

t.test('each clock is read on its own first use, and a new callback reads again', async (t) => {
  await null;
  spin(1);
  const wall = turnDateNow();
  spin(2);
  const mono = turnNow();
  t.ok(Math.abs(performance.timeOrigin + mono - Date.now()) < 50, 'turnNow is performance.now()');
  t.ok(Date.now() - wall >= 2, 'turnDateNow kept its own first reading');
  const next = await new Promise<number>((resolve) => setImmediate(() => resolve(turnNow())));
  t.ok(next > mono, 'another callback, another reading');
});
