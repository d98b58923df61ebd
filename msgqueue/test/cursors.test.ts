import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CURSOR_FILE, openCursorStore, type CursorStore, type CursorStoreOptions } from '../src/consumers/cursors.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsq-cursors-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openTest(t: Teardown, dir: string, opts: Partial<CursorStoreOptions> = {}): Promise<CursorStore> {
  // A long interval keeps the timer out of the tests: they flush explicitly.
  const store = await openCursorStore(dir, { flushIntervalMs: 3_600_000, ...opts });
  t.teardown(() => store.close());
  return store;
}

t.test('positions survive a restart', async (t) => {
  const dir = await tempDir(t);
  const store = await openTest(t, dir);
  t.equal(store.get('billing'), 0, 'unknown name reads 0');
  store.set('billing', 42);
  store.set('audit', 7);
  store.set('billing', 43);
  t.equal(store.get('billing'), 43);
  t.same(store.names().sort(), ['audit', 'billing']);
  await store.close();

  const reopened = await openTest(t, dir);
  t.equal(reopened.get('billing'), 43);
  t.equal(reopened.get('audit'), 7);
  t.equal(reopened.size, 2);
  t.same([...reopened.entries()].sort(), [
    ['audit', 7],
    ['billing', 43],
  ]);
});

t.test('flush writes only when something changed', async (t) => {
  const store = await openTest(t, await tempDir(t));
  await store.flush();
  t.equal(store.stats.writes, 0, 'nothing to write');
  store.set('a', 1);
  await store.flush();
  t.equal(store.stats.writes, 1);
  store.set('a', 1);
  await store.flush();
  t.equal(store.stats.writes, 1, 'same value is not a change');
  store.set('a', 2);
  await Promise.all([store.flush(), store.flush(), store.flush()]);
  t.equal(store.stats.writes, 1 + 1, 'concurrent flushes coalesce');
});

t.test('a set during a flush is written by the next flush', async (t) => {
  const dir = await tempDir(t);
  const store = await openTest(t, dir);
  store.set('a', 1);
  const first = store.flush();
  store.set('a', 2);
  await Promise.all([first, store.flush()]);
  await store.close();
  t.equal((await openTest(t, dir)).get('a'), 2);
});

t.test('the file is replaced atomically: a torn tmp file from a crash is ignored', async (t) => {
  const dir = await tempDir(t);
  const store = await openTest(t, dir, { now: () => 1000 });
  store.set('a', 5);
  await store.close();
  const before = await readFile(join(dir, CURSOR_FILE), 'utf8');
  t.same(JSON.parse(before), { version: 2, cursors: [['a', 5, 1000]] });
  // A crash between writing the tmp file and the rename leaves the old file intact.
  await writeFile(join(dir, `${CURSOR_FILE}.tmp`), '{"version":1,"cursors":[["a",9');

  const reopened = await openTest(t, dir);
  t.equal(reopened.get('a'), 5);
  t.same(await readdir(dir), [CURSOR_FILE], 'stale tmp file removed');
  reopened.set('a', 6);
  await reopened.flush();
  t.same(await readdir(dir), [CURSOR_FILE], 'no tmp file left after a flush');
  t.equal(JSON.parse(await readFile(join(dir, CURSOR_FILE), 'utf8')).cursors[0][1], 6);
});

t.test('a corrupt cursor file refuses to open', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, CURSOR_FILE), 'not json');
  await t.rejects(openCursorStore(dir), { code: 'CURSOR_CORRUPT' });
  await writeFile(join(dir, CURSOR_FILE), '{"version":1,"cursors":[["a",-1]]}');
  await t.rejects(openCursorStore(dir), { code: 'CURSOR_CORRUPT' });
  await writeFile(join(dir, CURSOR_FILE), '{"version":2,"cursors":[["a",1]]}');
  await t.rejects(openCursorStore(dir), { code: 'CURSOR_CORRUPT' }, 'version 2 rows carry a last-seen time');
  await writeFile(join(dir, CURSOR_FILE), '{"version":3,"cursors":[]}');
  await t.rejects(openCursorStore(dir), { code: 'CURSOR_CORRUPT' });
});

t.test('last-seen times survive a restart; a version 1 file loads as seen at load time', async (t) => {
  const dir = await tempDir(t);
  let clock = 5_000;
  const store = await openTest(t, dir, { now: () => clock });
  store.set('acked', 3);
  t.same(store.entry('acked'), { acked: 3, lastSeenMs: 5_000 }, 'a new name is seen when first set');
  store.touch('attached', 7_000);
  t.same(store.entry('attached'), { acked: 0, lastSeenMs: 7_000 }, 'touch registers an unknown name at 0');
  clock = 9_000;
  store.set('acked', 4);
  t.equal(store.entry('acked')?.lastSeenMs, 5_000, 'an ack is not a sighting');
  t.equal(store.has('attached'), true);
  t.equal(store.has('nobody'), false);
  t.equal(store.entry('nobody'), undefined);
  await store.close();

  const reopened = await openTest(t, dir, { now: () => 1_000_000 });
  t.same(reopened.entry('acked'), { acked: 4, lastSeenMs: 5_000 });
  t.same(reopened.entry('attached'), { acked: 0, lastSeenMs: 7_000 });

  const old = await tempDir(t);
  await writeFile(join(old, CURSOR_FILE), '{"version":1,"cursors":[["a",9]]}');
  const upgraded = await openTest(t, old, { now: () => 42_000 });
  t.same(upgraded.entry('a'), { acked: 9, lastSeenMs: 42_000 });
  upgraded.touch('a', 43_000);
  await upgraded.flush();
  t.same(JSON.parse(await readFile(join(old, CURSOR_FILE), 'utf8')), { version: 2, cursors: [['a', 9, 43_000]] });
});

t.test('touch and set share the consumer limit; a touch at the same time is not a change', async (t) => {
  const store = await openTest(t, await tempDir(t), { maxConsumers: 1 });
  store.touch('a', 1);
  t.throws(() => store.touch('b', 1), { code: 'LIMIT_EXCEEDED' });
  t.throws(() => store.set('b', 1), { code: 'LIMIT_EXCEEDED' });
  t.throws(() => store.touch('', 1), { code: 'INVALID_ARGUMENT' });
  await store.flush();
  const writes = store.stats.writes;
  store.touch('a', 1);
  await store.flush();
  t.equal(store.stats.writes, writes, 'nothing to write');
  await store.close();
  t.throws(() => store.touch('a', 2), { code: 'CURSOR_CLOSED' });
});

t.test('new names past maxConsumers are refused with LIMIT_EXCEEDED', async (t) => {
  const store = await openTest(t, await tempDir(t), { maxConsumers: 2 });
  store.set('a', 1);
  store.set('b', 1);
  t.throws(() => store.set('c', 1), { code: 'LIMIT_EXCEEDED' });
  store.set('a', 2);
  t.equal(store.get('a'), 2, 'known names still update');
  t.equal(store.delete('a'), true);
  store.set('c', 1);
  t.same(store.names().sort(), ['b', 'c']);
});

t.test('invalid names and positions are refused', async (t) => {
  const store = await openTest(t, await tempDir(t), { maxNameBytes: 4 });
  t.throws(() => store.set('', 1), { code: 'INVALID_ARGUMENT' });
  t.throws(() => store.set('abcde', 1), { code: 'INVALID_ARGUMENT' });
  t.throws(() => store.set('a', -1), { code: 'INVALID_ARGUMENT' });
  t.throws(() => store.set('a', 1.5), { code: 'INVALID_ARGUMENT' });
  t.equal(store.size, 0);
  await t.rejects(openCursorStore(await tempDir(t), { maxConsumers: 0 }), { code: 'INVALID_ARGUMENT' });
  const noClock = { now: 'soon' } as unknown as Partial<CursorStoreOptions>;
  await t.rejects(openCursorStore(await tempDir(t), noClock), { code: 'INVALID_ARGUMENT' });
});

t.test('close flushes, is idempotent, and later sets fail', async (t) => {
  const dir = await tempDir(t);
  const store = await openTest(t, dir);
  store.set('a', 3);
  const closing = store.close();
  t.equal(store.close(), closing);
  await closing;
  t.equal(store.stats.writes, 1);
  t.throws(() => store.set('a', 4), { code: 'CURSOR_CLOSED' });
  t.equal((await openTest(t, dir)).get('a'), 3);
});

t.test('close stops the flush timer', async (t) => {
  const { setInterval: realSet, clearInterval: realClear } = globalThis;
  const live = new Set<unknown>();
  globalThis.setInterval = ((...args: Parameters<typeof realSet>) => {
    const handle = realSet(...args);
    live.add(handle);
    return handle;
  }) as typeof realSet;
  globalThis.clearInterval = ((handle: Parameters<typeof realClear>[0]) => {
    live.delete(handle);
    realClear(handle);
  }) as typeof realClear;
  t.teardown(() => {
    globalThis.setInterval = realSet;
    globalThis.clearInterval = realClear;
  });
  const store = await openCursorStore(await tempDir(t));
  t.equal(live.size, 1);
  await store.close();
  t.equal(live.size, 0);
});
