/**
 * TopicIndex.matchList: the cached answer per topic is always the one `match` gives for the
 * index as it is now, lists handed out earlier never change, and the cache stays bounded.
 */
import fc from 'fast-check';
import t from 'tap';
import { TopicIndex } from '../src/protocol/topic-index.js';

const sorted = <S>(xs: Iterable<S>) => [...xs].map(String).sort();

const token = fc.constantFrom('a', 'b', 'c');
const topicArb = fc.array(token, { minLength: 1, maxLength: 3 }).map((toks) => toks.join('.'));
const patternArb = fc
  .array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 3 })
  .chain((toks) => fc.boolean().map((gt) => (gt ? [...toks, '>'] : toks).join('.')));
const opArb = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), pattern: patternArb, sub: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('remove' as const), pattern: patternArb, sub: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('match' as const), topic: topicArb }),
);

t.test('property: matchList agrees with match through any adds and removes', async (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.nat(3), fc.nat(8), (ops, maxTopics, maxRefs) => {
      const index = new TopicIndex<number>({ maxTopics, maxRefs });
      for (const op of ops) {
        if (op.kind === 'add') index.add(op.pattern, op.sub);
        else if (op.kind === 'remove') index.remove(op.pattern, op.sub);
        else {
          const list = index.matchList(op.topic);
          if (new Set(list).size !== list.length) return false;
          if (JSON.stringify(sorted(list)) !== JSON.stringify(sorted(index.match(op.topic)))) return false;
        }
      }
      return true;
    }),
  );
  t.pass('property held');
});

t.test('matchList answers from the cache until the index changes', async (t) => {
  const index = new TopicIndex<string>();
  index.add('a.*', 'x');
  index.add('a.>', 'x');
  index.add('a.b', 'y');
  const first = index.matchList('a.b');
  t.same(sorted(first), ['x', 'y'], 'each subscriber once');
  t.equal(index.matchList('a.b'), first, 'the same list while nothing changed');

  t.equal(index.add('a.b', 'z'), true);
  const second = index.matchList('a.b');
  t.same(sorted(second), ['x', 'y', 'z'], 'an add is seen');
  t.same(sorted(first), ['x', 'y'], 'a list handed out earlier is left as it was');

  t.equal(index.add('a.b', 'z'), false, 'adding what is there changes nothing');
  t.equal(index.matchList('a.b'), second, 'and keeps the cache');

  index.remove('a.b', 'y');
  t.same(sorted(index.matchList('a.b')), ['x', 'z'], 'a remove is seen');
  t.same(sorted(second), ['x', 'y', 'z']);
  t.same(index.matchList('nothing.here'), [], 'no subscriber: an empty list');
});

t.test('the cache holds at most maxTopics topics and maxRefs references', async (t) => {
  const index = new TopicIndex<string>({ maxTopics: 2, maxRefs: 4 });
  index.add('>', 'x');
  index.add('>', 'y');
  const a = index.matchList('a');
  const b = index.matchList('b');
  t.equal(index.matchList('a'), a, 'two topics of two references fit');
  t.equal(index.matchList('b'), b);
  const c = index.matchList('c');
  t.not(index.matchList('a'), a, 'a third one emptied the cache first');
  t.equal(index.matchList('c'), c, 'and was kept');

  const byTopics = new TopicIndex<string>({ maxTopics: 2, maxRefs: 100 });
  const e1 = byTopics.matchList('e1');
  byTopics.matchList('e2');
  t.equal(byTopics.matchList('e1'), e1, 'empty answers are cached too');
  byTopics.matchList('e3');
  t.not(byTopics.matchList('e1'), e1, 'and count against maxTopics');

  const tiny = new TopicIndex<string>({ maxTopics: 10, maxRefs: 1 });
  tiny.add('>', 'x');
  tiny.add('>', 'y');
  const big = tiny.matchList('a');
  t.same(sorted(big), ['x', 'y'], 'an answer larger than maxRefs is still right');
  t.not(tiny.matchList('a'), big, 'but not cached');
});
