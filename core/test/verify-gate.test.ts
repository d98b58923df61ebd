import t from 'tap';
import { AuthBusyError, createVerifyGate, sourceOf } from '../src/front/verify-gate.js';

/** A job that starts when the gate lets it and ends when the test says so. */
function controlled(log: string[], name: string) {
  let finish!: () => void;
  let fail!: (e: Error) => void;
  let started!: () => void;
  const began = new Promise<void>((r) => (started = r));
  const job = () =>
    new Promise<string>((resolve, reject) => {
      log.push(name);
      started();
      finish = () => resolve(name);
      fail = reject;
    });
  return { job, began, finish: () => finish(), fail: (e: Error) => fail(e) };
}

t.test('runs at most maxConcurrent jobs and serves waiting sources round-robin', async (t) => {
  const gate = createVerifyGate({ maxConcurrent: 1, maxPerSource: 100, maxQueued: 100 });
  const order: string[] = [];
  const flood = Array.from({ length: 5 }, (_, i) => controlled(order, `a${i}`));
  const done = flood.map((c) => gate.run('attacker', c.job));
  const legit = controlled(order, 'b0');
  const legitDone = gate.run('user', legit.job);
  t.same(order, ['a0']);
  t.equal(gate.queued, 5);
  flood[0]!.finish();
  await flood[1]!.began;
  t.same(order, ['a0', 'a1']);
  flood[1]!.finish();
  await legit.began;
  t.same(order, ['a0', 'a1', 'b0'], 'the other source is served after one more attacker job, not after all of them');
  legit.finish();
  t.equal(await legitDone, 'b0');
  for (const c of flood.slice(2)) {
    await c.began;
    c.finish();
  }
  t.same(await Promise.all(done), ['a0', 'a1', 'a2', 'a3', 'a4']);
  t.equal(gate.queued, 0);
});

t.test('a source past maxPerSource, or a full queue, is refused at once', async (t) => {
  const gate = createVerifyGate({ maxConcurrent: 1, maxPerSource: 2, maxQueued: 2 });
  const log: string[] = [];
  const jobs = [controlled(log, 'x0'), controlled(log, 'x1')];
  const running = jobs.map((c) => gate.run('x', c.job));
  await t.rejects(gate.run('x', controlled(log, 'x2').job), AuthBusyError);
  const y = controlled(log, 'y0');
  const yDone = gate.run('y', y.job);
  await t.rejects(gate.run('z', controlled(log, 'z0').job), { code: 'AUTH_BUSY' }, 'queue full');
  jobs[0]!.fail(new Error('boom'));
  await t.rejects(running[0]!, { message: 'boom' });
  await jobs[1]!.began;
  jobs[1]!.finish();
  t.equal(await running[1], 'x1');
  await y.began;
  y.finish();
  t.equal(await yDone, 'y0');
  t.same(log, ['x0', 'x1', 'y0'], 'a failed job frees its slot; refused jobs never ran');
});

t.test('the fairness key of an address', async (t) => {
  t.equal(sourceOf(undefined), '');
  t.equal(sourceOf('127.0.0.1'), '127.0.0.1');
  t.equal(sourceOf('::ffff:10.1.2.3'), '10.1.2.3');
  t.equal(sourceOf('::1'), '0:0:0:0::/64');
  t.equal(sourceOf('2001:db8:0:12:aaaa::1'), '2001:db8:0:12::/64');
  t.equal(sourceOf('2001:0db8:0000:0012:ffff:1:2:3'), '2001:db8:0:12::/64');
  t.equal(sourceOf('2001:db8::%eth0'), '2001:db8:0:0::/64');
  t.equal(sourceOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
});
