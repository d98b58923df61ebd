import fc from 'fast-check';
import t from 'tap';
import { TopicIndex } from '../src/protocol/topic-index.js';
import { isValidPattern, isValidTopic, matchesPattern, patternCovers } from '../src/protocol/topics.js';

t.test('topic validity', async (t) => {
  const valid = ['news', 'chat.eu', 'a.b.c', 'x'.repeat(255), 'A-Z_09!~', 'ü'.length ? 'u' : ''];
  const invalid = ['', ' ', 'a b', 'a..b', '.a', 'a.', 'x'.repeat(256), 'a.*', 'a.>', 'tab\t', 'ünï', 42, null];
  for (const s of valid) t.ok(isValidTopic(s), `valid topic ${JSON.stringify(s)}`);
  for (const s of invalid) t.notOk(isValidTopic(s), `invalid topic ${JSON.stringify(s)}`);
});

t.test('pattern validity', async (t) => {
  const valid = ['news', '*', '>', 'chat.*', 'chat.>', '*.eu', '*.*.>', 'a.*.c'];
  const invalid = ['', 'a.>.b', '>.a', '>.>', 'a..*', 'a b', '.>', 'a.'];
  for (const s of valid) t.ok(isValidPattern(s), `valid pattern ${s}`);
  for (const s of invalid) t.notOk(isValidPattern(s), `invalid pattern ${s}`);
  // A token that only contains `*` or `>` is a literal, as in NATS: every publishable topic
  // can be subscribed to by its name, and matches only itself there.
  for (const s of ['a*', 'a.b*', '*a', 'a.>>', 'a.*b', 'x>.y']) {
    t.ok(isValidTopic(s) && isValidPattern(s), `${s} is a topic and a pattern`);
    t.ok(matchesPattern(s, s), `${s} matches itself`);
  }
  t.notOk(matchesPattern('a.*b', 'a.xb'), 'no wildcard inside a token');
  t.ok(matchesPattern('a.*', 'a.*b'), 'a whole-token wildcard matches the literal token');
});

t.test('property: every valid topic is a valid pattern that matches itself', async (t) => {
  const chars = fc.constantFrom('a', 'b', '.', '*', '>', '-');
  fc.assert(
    fc.property(fc.array(chars, { minLength: 1, maxLength: 10 }), (cs) => {
      const s = cs.join('');
      return !isValidTopic(s) || (isValidPattern(s) && matchesPattern(s, s));
    }),
  );
  t.pass('property held');
});

const matchTable: [string, string, boolean][] = [
  ['news', 'news', true],
  ['news', 'news.eu', false],
  ['*', 'news', true],
  ['*', 'news.eu', false],
  ['>', 'news', true],
  ['>', 'news.eu.fr', true],
  ['chat.*', 'chat.eu', true],
  ['chat.*', 'chat', false],
  ['chat.*', 'chat.eu.fr', false],
  ['chat.>', 'chat', false],
  ['chat.>', 'chat.eu', true],
  ['chat.>', 'chat.eu.fr', true],
  ['*.eu', 'chat.eu', true],
  ['*.eu', 'chat.us', false],
  ['a.*.c', 'a.b.c', true],
  ['a.*.c', 'a.b.d', false],
];

t.test('matching follows NATS semantics', async (t) => {
  for (const [p, topic, want] of matchTable) t.equal(matchesPattern(p, topic), want, `${p} ~ ${topic}`);
});

t.test('pattern coverage (permissions)', async (t) => {
  const table: [string, string, boolean][] = [
    ['>', 'anything.*', true],
    ['chat.>', 'chat.*', true],
    ['chat.>', 'chat.>', true],
    ['chat.>', 'chat', false],
    ['chat.>', '>', false],
    ['chat.*', 'chat.eu', true],
    ['chat.*', 'chat.*', true],
    ['chat.*', 'chat.>', false],
    ['chat.eu', 'chat.*', false],
    ['*.eu', 'chat.eu', true],
  ];
  for (const [outer, inner, want] of table) t.equal(patternCovers(outer, inner), want, `${outer} covers ${inner}`);
});

const token = fc.stringMatching(/^[a-c]{1,2}$/);
const topicArb = fc.array(token, { minLength: 1, maxLength: 4 }).map((a) => a.join('.'));
const patternArb = fc
  .array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 4 })
  .chain((toks) => fc.boolean().map((gt) => (gt ? [...toks, '>'] : toks).join('.')));

t.test('property: TopicIndex.match agrees with matchesPattern, each subscriber once', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(patternArb, fc.integer({ min: 0, max: 5 })), { maxLength: 20 }),
      topicArb,
      (subs, topic) => {
        const index = new TopicIndex<number>();
        for (const [p, s] of subs) index.add(p, s);
        const got = [...index.match(topic)].sort();
        const want = [...new Set(subs.filter(([p]) => matchesPattern(p, topic)).map(([, s]) => s))].sort();
        return JSON.stringify(got) === JSON.stringify(want);
      },
    ),
  );
  t.pass('property held');
});

t.test('property: removing every subscription leaves the index empty', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(patternArb, fc.integer({ min: 0, max: 3 })), { maxLength: 20 }), (subs) => {
      const index = new TopicIndex<number>();
      for (const [p, s] of subs) index.add(p, s);
      for (const [p, s] of subs) index.remove(p, s);
      return index.isEmpty && index.size === 0;
    }),
  );
  t.pass('property held');
});

t.test('TopicIndex add/remove report changes', async (t) => {
  const index = new TopicIndex<string>();
  t.equal(index.add('a.*', 'x'), true);
  t.equal(index.add('a.*', 'x'), false);
  t.equal(index.add('a.>', 'x'), true);
  t.equal(index.size, 2);
  t.same([...index.match('a.b')], ['x']);
  t.equal(index.remove('a.*', 'y'), false);
  t.equal(index.remove('b.c', 'x'), false);
  t.equal(index.remove('a.*', 'x'), true);
  t.equal(index.remove('a.>', 'x'), true);
  t.equal(index.isEmpty, true);
});

/** The straightforward split-based definitions the one-pass versions must agree with. */
function referenceMatch(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const tt = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return tt.length > i;
    if (i >= tt.length || (p[i] !== '*' && p[i] !== tt[i])) return false;
  }
  return p.length === tt.length;
}

function referenceValidTopic(s: string): boolean {
  if (s.length === 0 || s.length > 255 || !/^[\x21-\x7e]+$/.test(s)) return false;
  return s.split('.').every((tok) => tok.length > 0 && tok !== '*' && tok !== '>');
}

t.test('property: matchesPattern agrees with the split-based definition', async (t) => {
  fc.assert(fc.property(patternArb, topicArb, (p, topic) => matchesPattern(p, topic) === referenceMatch(p, topic)));
  // Near misses: one token longer or shorter, and prefixes of the same characters.
  t.equal(matchesPattern('a.b', 'a.bc'), false);
  t.equal(matchesPattern('a.bc', 'a.b'), false);
  t.equal(matchesPattern('a.*', 'a'), false);
  t.equal(matchesPattern('a.*.c', 'a.b.c.d'), false);
  t.equal(matchesPattern('*.>', 'a.b'), true);
  t.pass('property held');
});

t.test('property: isValidTopic agrees with the split-based definition', async (t) => {
  const chars = fc.constantFrom('a', 'b', '.', '*', '>', ' ', '-', 'é');
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 8 }), (cs) => {
      const s = cs.join('');
      return isValidTopic(s) === referenceValidTopic(s);
    }),
    { numRuns: 2000 },
  );
  t.pass('property held');
});
