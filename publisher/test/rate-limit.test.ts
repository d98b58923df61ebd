import t from 'tap';
import { createTokenBucket } from '../src/rate-limit.js';

function clock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

t.test('a full bucket allows a burst, then refuses', async (t) => {
  const c = clock();
  const b = createTokenBucket(10, 3, c.now);
  t.same([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
});

t.test('tokens refill at the rate, never above the burst', async (t) => {
  const c = clock();
  const b = createTokenBucket(10, 2, c.now);
  t.ok(b.take());
  t.ok(b.take());
  t.notOk(b.take());
  c.advance(99);
  t.notOk(b.take(), '0.99 tokens after 99 ms at 10/s');
  c.advance(1);
  t.ok(b.take(), 'one token after 100 ms');
  c.advance(60_000);
  t.equal(b.tokens, 2, 'capped at the burst');
  t.same([b.take(), b.take(), b.take()], [true, true, false]);
});

t.test('a clock going backwards does not add tokens', async (t) => {
  const c = clock();
  const b = createTokenBucket(1000, 1, c.now);
  t.ok(b.take());
  c.advance(-5000);
  t.notOk(b.take());
});

t.test('nonsense rates are refused', async (t) => {
  t.throws(() => createTokenBucket(0, 1), RangeError);
  t.throws(() => createTokenBucket(1, 0), RangeError);
});

t.test('the default clock works', async (t) => {
  const b = createTokenBucket(1, 1);
  t.ok(b.take());
  t.notOk(b.take());
});
