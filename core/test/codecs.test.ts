import assert from 'node:assert/strict';
import fc from 'fast-check';
import t from 'tap';
import { FRAME_ERROR_CODES, ProtocolError } from '../src/protocol/errors.js';
import {
  contentToData,
  dataToContent,
  decodeLegacy,
  decodeLegacyToData,
  encodeLegacy,
  encodeLegacyData,
} from '../src/protocol/legacy.js';
import {
  decodeLinkReply,
  decodeLinkRequest,
  encodeLink,
  type LinkReply,
  type LinkRequest,
} from '../src/protocol/link.js';
import { appendRefOf } from '../src/protocol/link-binary.js';
import { isJsonText } from '../src/protocol/json.js';
import {
  decodeClientFrame,
  parseClientFrame,
  decodeServerFrame,
  encodeAck,
  encodeError,
  encodeMsg,
  encodeSubscribed,
  encodeUnsubscribed,
} from '../src/protocol/v1.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
}

t.test('legacy codec: ws-go frames', async (t) => {
  t.same(decodeLegacy('{"Topic":"news","Content":"hello"}'), { topic: 'news', content: 'hello' });
  t.same(
    decodeLegacy('{"topic":"news","content":"sub"}'),
    { topic: 'news', content: 'sub' },
    'keys are case-insensitive like Go',
  );
  t.same(decodeLegacy('{"Topic":"news"}'), { topic: 'news', content: '' }, 'missing Content is empty, like Go');
  t.same(
    decodeLegacy('{"Topic":"first","topic":"last","CONTENT":"x","Content":"y"}'),
    { topic: 'last', content: 'y' },
    'the last key in any letter case wins, as Go assigns each in turn',
  );
  t.same(decodeLegacy('{"Topic":"a","Topic":"b","Content":"x"}'), { topic: 'b', content: 'x' }, 'a repeated key');
  t.equal(encodeLegacy('news', 'hello'), '{"Topic":"news","Content":"hello"}');
  const bad = ['', 'nope', '[]', '1', '{"Topic":1,"Content":"x"}', '{"Topic":"a","Content":{"x":1}}', 'null'];
  for (const b of bad)
    t.equal(
      codeOf(() => decodeLegacy(b)),
      'BAD_FRAME',
      `rejects ${b}`,
    );
});

t.test('mixed-mode conversion', async (t) => {
  t.equal(dataToContent('"hello"'), 'hello');
  t.equal(dataToContent('{"a":1}'), '{"a":1}');
  t.equal(dataToContent('42'), '42');
  t.equal(dataToContent('"broken'), '"broken');
  t.equal(contentToData('hi "you"'), '"hi \\"you\\""');
});

const clientTable: [string, string, unknown][] = [
  ['{"op":"pub","topic":"chat.eu","data":"hi"}', 'ok', { op: 'pub', topic: 'chat.eu', data: '"hi"' }],
  [
    '{"op":"pub","topic":"chat.eu","data":{"a":[1,2]},"id":"m1"}',
    'ok',
    { op: 'pub', topic: 'chat.eu', data: '{"a":[1,2]}', id: 'm1' },
  ],
  ['{"op":"pub","topic":"chat.eu","data":null}', 'ok', { op: 'pub', topic: 'chat.eu', data: 'null' }],
  ['{"op":"sub","topic":"chat.*","id":"r1","since":120}', 'ok', { op: 'sub', topic: 'chat.*', id: 'r1', since: 120 }],
  ['{"op":"sub","topic":">"}', 'ok', { op: 'sub', topic: '>' }],
  ['{"op":"unsub","topic":"chat.*","id":"r2"}', 'ok', { op: 'unsub', topic: 'chat.*', id: 'r2' }],
  ['not json', 'BAD_FRAME', undefined],
  ['[1]', 'BAD_FRAME', undefined],
  ['{"op":"nope"}', 'BAD_FRAME', undefined],
  ['{"topic":"a"}', 'BAD_FRAME', undefined],
  ['{"op":"pub","topic":"a"}', 'BAD_FRAME', undefined],
  ['{"op":"pub","topic":"a.*","data":1}', 'BAD_TOPIC', undefined],
  ['{"op":"pub","topic":"","data":1}', 'BAD_TOPIC', undefined],
  ['{"op":"pub","topic":"a b","data":1}', 'BAD_TOPIC', undefined],
  ['{"op":"pub","topic":7,"data":1}', 'BAD_FRAME', undefined],
  ['{"op":"pub","data":1}', 'BAD_FRAME', undefined],
  ['{"op":"sub","topic":null}', 'BAD_FRAME', undefined],
  ['{"op":"sub","topic":["a"]}', 'BAD_FRAME', undefined],
  ['{"op":"sub","topic":"a.>.b"}', 'BAD_TOPIC', undefined],
  ['{"op":"unsub"}', 'BAD_FRAME', undefined],
  ['{"op":"unsub","topic":"a..b"}', 'BAD_TOPIC', undefined],
  ['{"op":"sub","topic":"a.*b"}', 'ok', { op: 'sub', topic: 'a.*b' }],
  [`{"op":"pub","topic":"a","data":${'['.repeat(20_000)}${']'.repeat(20_000)},"id":"deep"}`, 'BAD_FRAME', undefined],
  ['{"op":"sub","topic":"a","since":-1}', 'BAD_FRAME', undefined],
  ['{"op":"sub","topic":"a","since":1.5}', 'BAD_FRAME', undefined],
  ['{"op":"sub","topic":"a","since":"3"}', 'BAD_FRAME', undefined],
  [`{"op":"pub","topic":"a","data":1,"id":"${'x'.repeat(129)}"}`, 'BAD_FRAME', undefined],
  ['{"op":"pub","topic":"a","data":1,"id":5}', 'BAD_FRAME', undefined],
  ['{"op":"pub","topic":"a","data":1,"id":""}', 'BAD_FRAME', undefined],
];

t.test('v1 client frames, table-driven', async (t) => {
  for (const [text, want, frame] of clientTable) {
    if (want === 'ok') t.same(decodeClientFrame(text), frame, text);
    else
      t.equal(
        codeOf(() => decodeClientFrame(text)),
        want,
        text,
      );
  }
});

t.test('v1: data nested beyond what JSON.stringify can walk is a bad frame, with its id', async (t) => {
  const deep = `{"op":"pub","topic":"a","data":${'['.repeat(100_000)}${']'.repeat(100_000)},"id":"d1"}`;
  try {
    decodeClientFrame(deep);
    t.fail('should throw');
  } catch (err) {
    t.match(err, { code: 'BAD_FRAME', id: 'd1', message: 'data is nested too deeply' });
  }
  t.same(decodeClientFrame(`{"op":"pub","topic":"a","data":${'['.repeat(50)}${']'.repeat(50)}}`), {
    op: 'pub',
    topic: 'a',
    data: '['.repeat(50) + ']'.repeat(50),
  });
});

t.test('v1 errors echo the request id', async (t) => {
  try {
    decodeClientFrame('{"op":"sub","topic":"a b","id":"r9"}');
    t.fail('should throw');
  } catch (err) {
    t.equal((err as ProtocolError).id, 'r9');
    t.equal((err as ProtocolError).code, 'BAD_TOPIC');
  }
});

t.test('v1 server frames encode to valid JSON', async (t) => {
  t.same(JSON.parse(encodeAck('m"1', 123)), { op: 'ack', id: 'm"1', seq: 123 });
  t.same(JSON.parse(encodeSubscribed({ id: 'r1', topic: 'chat.*', seq: 5, recovered: true })), {
    op: 'subscribed',
    id: 'r1',
    topic: 'chat.*',
    seq: 5,
    recovered: true,
  });
  t.same(JSON.parse(encodeUnsubscribed({ id: 'r2', topic: 'chat.*' })), {
    op: 'unsubscribed',
    id: 'r2',
    topic: 'chat.*',
  });
  t.same(JSON.parse(encodeMsg('chat.eu', 124, '{"a":1}', 99)), {
    op: 'msg',
    topic: 'chat.eu',
    seq: 124,
    data: { a: 1 },
    ts: 99,
  });
  t.same(JSON.parse(encodeError('FORBIDDEN', 'no', 'x')), { op: 'error', id: 'x', code: 'FORBIDDEN', message: 'no' });
  t.same(JSON.parse(encodeError('INTERNAL', 'oops')), { op: 'error', code: 'INTERNAL', message: 'oops' });
  t.equal(decodeServerFrame(encodeAck('a', 1)).op, 'ack');
  t.equal(
    codeOf(() => decodeServerFrame('{"op":"zzz"}')),
    'BAD_FRAME',
  );
});

const jsonValue = fc.jsonValue();
const topicArb = fc
  .array(fc.stringMatching(/^[!-)+\-/-=?-~]{1,8}$/), { minLength: 1, maxLength: 4 })
  .map((a) => a.join('.'));

t.test('property: any pub with a valid topic and JSON data roundtrips the data', async (t) => {
  fc.assert(
    fc.property(topicArb, jsonValue, (topic, data) => {
      const frame = decodeClientFrame(JSON.stringify({ op: 'pub', topic, data }));
      if (frame.op !== 'pub') return false;
      const out = JSON.parse(encodeMsg(topic, 1, frame.data, 0)) as { data: unknown; topic: string };
      return JSON.stringify(out.data) === JSON.stringify(JSON.parse(JSON.stringify(data))) && out.topic === topic;
    }),
  );
  t.pass('property held');
});

t.test('property: arbitrary text never crashes the decoders (ProtocolError or a frame)', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.jsonValue().map((v) => JSON.stringify(v)),
      ),
      (text) => {
        for (const decode of [decodeClientFrame, decodeLegacy, decodeLinkRequest]) {
          try {
            decode(text);
          } catch (err) {
            if (!(err instanceof ProtocolError)) return false;
          }
        }
        return true;
      },
    ),
  );
  t.pass('property held');
});

t.test('property: legacy encode/decode roundtrip', async (t) => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (topic, content) => {
      const m = decodeLegacy(encodeLegacy(topic, content));
      return m.topic === topic && m.content === content && dataToContent(contentToData(content)) === content;
    }),
  );
  t.pass('property held');
});

t.test('link requests, table-driven', async (t) => {
  const ok: [string, unknown][] = [
    ['{"op":"consume","name":"sub-1","window":10}', { op: 'consume', name: 'sub-1', window: 10 }],
    ['{"op":"ack","seq":7}', { op: 'ack', seq: 7 }],
    [
      '{"op":"replay","ref":3,"from":1,"to":9,"limit":100,"pattern":"a.*"}',
      { op: 'replay', ref: 3, from: 1, to: 9, limit: 100, pattern: 'a.*' },
    ],
    ['{"op":"replay","ref":3,"from":1,"to":9,"limit":100}', { op: 'replay', ref: 3, from: 1, to: 9, limit: 100 }],
    ['{"op":"seek","ref":4,"ts":1764000000000}', { op: 'seek', ref: 4, ts: 1764000000000 }],
  ];
  for (const [text, want] of ok) t.same(decodeLinkRequest(text), want, text);
  const bad: [string, string][] = [
    ['{"op":"append","ref":1,"msgs":[{"topic":"a","data":"1","ts":5}]}', 'BAD_FRAME'], // append is binary
    ['{"op":"consume","name":"","window":10}', 'BAD_FRAME'],
    ['{"op":"consume","name":"a","window":0}', 'BAD_FRAME'],
    ['{"op":"ack","seq":"1"}', 'BAD_FRAME'],
    ['{"op":"replay","ref":3,"from":1,"to":9,"limit":100,"pattern":"a b"}', 'BAD_TOPIC'],
    ['{"op":"seek","ref":4}', 'BAD_FRAME'],
    ['{"op":"seek","ref":4,"ts":-1}', 'BAD_FRAME'],
    ['{"op":"seek","ref":4,"ts":"2026-01-01"}', 'BAD_FRAME'],
    ['{"op":"what"}', 'BAD_FRAME'],
  ];
  for (const [text, code] of bad)
    t.equal(
      codeOf(() => decodeLinkRequest(text)),
      code,
      text,
    );
});

t.test('link replies', async (t) => {
  const frames = [
    { op: 'appended', ref: 1, seqs: [1, 2] },
    { op: 'consuming', name: 'a', next: 1, first: 1, last: 0 },
    { op: 'msgs', msgs: [{ seq: 1, topic: 'a', data: '1', ts: 2 }] },
    { op: 'replayed', ref: 2, msgs: [], first: 1, more: false, next: 1 },
    { op: 'sought', ref: 4, seq: 17 },
    { op: 'error', ref: 3, code: 'INTERNAL', message: 'x' },
  ] satisfies LinkReply[];
  for (const f of frames) t.same(decodeLinkReply(encodeLink(f)), f);
  t.type(encodeLink(frames[0]), Buffer, 'appended is a binary frame');
  t.type(encodeLink(frames[2]), Buffer, 'msgs is a binary frame');
  t.type(encodeLink(frames[1]), 'string', 'consuming is JSON text');
  for (const text of ['{"op":"append"}', '{"op":"appended","ref":1,"seqs":[1]}', '{"op":"msgs","msgs":[]}'])
    t.equal(
      codeOf(() => decodeLinkReply(text)),
      'BAD_FRAME',
      `${text}: message frames are binary`,
    );
  t.equal(
    codeOf(() => decodeLinkReply(Buffer.from([9, 0, 0]))),
    'BAD_FRAME',
    'unknown binary frame',
  );
});

/** An append frame as bytes, built field by field so tests can break any one of them. */
function appendBytes(opts: {
  ref?: number;
  count?: number;
  producer?: Buffer;
  flags?: number;
  ts?: number;
  topic?: Buffer;
  pid?: Buffer;
  counter?: number;
  data?: Buffer;
  trailing?: number;
}): Buffer {
  const topic = opts.topic ?? Buffer.from('a');
  const data = opts.data ?? Buffer.from('1');
  const producer = opts.producer ?? Buffer.alloc(0);
  const head = Buffer.alloc(14);
  head[0] = 1;
  head.writeDoubleBE(opts.ref ?? 1, 1);
  head.writeUInt32BE(opts.count ?? 1, 9);
  head[13] = producer.length;
  const item = Buffer.alloc(10);
  item[0] = opts.flags ?? (opts.pid ? 1 : opts.counter !== undefined ? 4 : 0);
  item.writeDoubleBE(opts.ts ?? 5, 1);
  item[9] = topic.length;
  const parts = [head, producer, item, topic];
  if (opts.pid) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(opts.pid.length);
    parts.push(len, opts.pid);
  }
  if (opts.counter !== undefined) {
    const counter = Buffer.alloc(8);
    counter.writeDoubleBE(opts.counter);
    parts.push(counter);
  }
  const dlen = Buffer.alloc(4);
  dlen.writeUInt32BE(data.length);
  parts.push(dlen, data, Buffer.alloc(opts.trailing ?? 0));
  return Buffer.concat(parts);
}

t.test('binary append frames: what decodes, and every malformed field refused', async (t) => {
  t.same(decodeLinkRequest(appendBytes({})), { op: 'append', ref: 1, msgs: [{ topic: 'a', data: '1', ts: 5 }] });
  t.same(decodeLinkRequest(appendBytes({ pid: Buffer.from('u\u0000x') })), {
    op: 'append',
    ref: 1,
    msgs: [{ topic: 'a', data: '1', ts: 5, pid: 'u\u0000x' }],
  });
  const producer = Buffer.from('AbCd-_0123xy');
  t.same(decodeLinkRequest(appendBytes({ producer, counter: 36 ** 10 - 1 })), {
    op: 'append',
    ref: 1,
    producer: 'AbCd-_0123xy',
    msgs: [{ topic: 'a', data: '1', ts: 5, counter: 36 ** 10 - 1 }],
  });
  t.same(
    decodeLinkRequest(appendBytes({ producer })),
    { op: 'append', ref: 1, producer: 'AbCd-_0123xy', msgs: [{ topic: 'a', data: '1', ts: 5 }] },
    'a producer with no item counting on it',
  );
  const dataOf = (frame: Buffer) => (decodeLinkRequest(frame) as { msgs: { data: string }[] }).msgs[0]!.data;
  t.equal(dataOf(appendBytes({ data: Buffer.from('"héllo ✓"') })), '"héllo ✓"');
  t.equal(dataOf(appendBytes({ data: Buffer.from('"\uFFFD"') })), '"\uFFFD"', 'a real U+FFFD');
  for (const json of ['"a\\"b"', '{"n":[1,2]}', ' 7 ', 'null', '"tab\\t"'])
    t.equal(dataOf(appendBytes({ data: Buffer.from(json) })), json, `JSON text ${json}`);
  const full = appendBytes({});
  const bad: [string, Buffer, string][] = [
    ['no messages', appendBytes({ count: 0 }), 'BAD_FRAME'],
    ['more messages announced than the frame holds', appendBytes({ count: 2 }), 'BAD_FRAME'],
    ['a count no frame could hold', appendBytes({ count: 0xffffffff }), 'BAD_FRAME'],
    ['negative ref', appendBytes({ ref: -1 }), 'BAD_FRAME'],
    ['fractional ts', appendBytes({ ts: 1.5 }), 'BAD_FRAME'],
    ['unknown flags', appendBytes({ flags: 8 }), 'BAD_FRAME'],
    ['pid and counter flags together', appendBytes({ flags: 5, producer, pid: Buffer.from('p') }), 'BAD_FRAME'],
    ['a counter without a producer', appendBytes({ counter: 1 }), 'BAD_FRAME'],
    ['a producer id too short', appendBytes({ producer: Buffer.from('AbCd'), counter: 1 }), 'BAD_FRAME'],
    ['a producer id not base64url', appendBytes({ producer: Buffer.from('AbCd.f0123xy'), counter: 1 }), 'BAD_FRAME'],
    ['a fractional counter', appendBytes({ producer, counter: 1.5 }), 'BAD_FRAME'],
    ['a negative counter', appendBytes({ producer, counter: -1 }), 'BAD_FRAME'],
    ['a counter past 10 base-36 digits', appendBytes({ producer, counter: 36 ** 10 }), 'BAD_FRAME'],
    ['pattern as topic', appendBytes({ topic: Buffer.from('a.*') }), 'BAD_TOPIC'],
    ['empty topic', appendBytes({ topic: Buffer.alloc(0) }), 'BAD_TOPIC'],
    ['non-ASCII topic', appendBytes({ topic: Buffer.from('é') }), 'BAD_TOPIC'],
    ['data not UTF-8', appendBytes({ data: Buffer.from([0x22, 0xff, 0x22]) }), 'BAD_FRAME'],
    ['data not JSON', appendBytes({ data: Buffer.from('hello') }), 'BAD_FRAME'],
    ['data an unterminated string', appendBytes({ data: Buffer.from('"abc') }), 'BAD_FRAME'],
    ['data that would inject a field', appendBytes({ data: Buffer.from('"a","Topic":"admin"') }), 'BAD_FRAME'],
    ['data of two values', appendBytes({ data: Buffer.from('1 2') }), 'BAD_FRAME'],
    ['empty data', appendBytes({ data: Buffer.alloc(0) }), 'BAD_FRAME'],
    ['pid not UTF-8', appendBytes({ pid: Buffer.from([0xc3]) }), 'BAD_FRAME'],
    ['pid too long', appendBytes({ pid: Buffer.alloc(513, 0x61) }), 'BAD_FRAME'],
    ['pid as a broken JSON string', appendBytes({ flags: 3, pid: Buffer.from('"a') }), 'BAD_FRAME'],
    ['pid as JSON that is not a string', appendBytes({ flags: 3, pid: Buffer.from('7') }), 'BAD_FRAME'],
    ['trailing bytes', appendBytes({ trailing: 1 }), 'BAD_FRAME'],
    ['cut short', full.subarray(0, full.length - 1), 'BAD_FRAME'],
    ['header only', full.subarray(0, 5), 'BAD_FRAME'],
    ['not an append', Buffer.from([2, ...full.subarray(1)]), 'BAD_FRAME'],
  ];
  for (const [what, frame, code] of bad)
    t.equal(
      codeOf(() => decodeLinkRequest(frame)),
      code,
      what,
    );
  t.equal(appendRefOf(appendBytes({ ref: 42, count: 0 })), 42, 'the ref of a refused frame, for its error');
  t.equal(appendRefOf(Buffer.from([1, 2])), undefined);
  t.equal(appendRefOf(appendBytes({ ref: 0.5 })), undefined);
});

t.test('a pid with a lone surrogate crosses the binary link unchanged (as JSON text)', async (t) => {
  for (const pid of ['u\u0000\ud800', 'u\u0000\udc00x', 'u\u0000\ud83d\ude00'])
    t.same(
      decodeLinkRequest(encodeLink({ op: 'append', ref: 1, msgs: [{ topic: 'a', data: '1', ts: 1, pid }] })),
      { op: 'append', ref: 1, msgs: [{ topic: 'a', data: '1', ts: 1, pid }] },
      JSON.stringify(pid),
    );
  t.not(
    (
      decodeLinkRequest(
        encodeLink({ op: 'append', ref: 1, msgs: [{ topic: 'a', data: '1', ts: 1, pid: '\ud800' }] }),
      ) as {
        msgs: { pid: string }[];
      }
    ).msgs[0]!.pid,
    (
      decodeLinkRequest(
        encodeLink({ op: 'append', ref: 1, msgs: [{ topic: 'a', data: '1', ts: 1, pid: '\ud801' }] }),
      ) as {
        msgs: { pid: string }[];
      }
    ).msgs[0]!.pid,
    'two different ids stay two pids',
  );
});

t.test('property: arbitrary bytes never crash the binary link decoders', async (t) => {
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 3), fc.uint8Array({ maxLength: 64 }), (kind, rest) => {
      const frame = Buffer.from([kind, ...rest]);
      for (const decode of [decodeLinkRequest, decodeLinkReply]) {
        try {
          decode(frame);
        } catch (err) {
          if (!(err instanceof ProtocolError)) return false;
        }
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass('property held');
});

// ---- Properties of every codec: what encodes decodes to the same thing, and nothing crashes.

/**
 * Throws (failing the property, which fast-check then shrinks) unless deeply equal. fast-check
 * may build records without a prototype, so the expectation is made plain JSON first.
 */
const same = (actual: unknown, expected: unknown) =>
  assert.deepStrictEqual(actual, JSON.parse(JSON.stringify(expected)) as unknown);

/** One topic token: printable ASCII without space, '.', '*' or '>'. */
const tokenArb = fc.stringMatching(/^[!-)+-\-/-=?-~]{1,8}$/);
const patternArb = fc
  .tuple(fc.array(fc.oneof(tokenArb, fc.constant('*')), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([toks, tail]) => (tail ? [...toks, '>'] : toks).join('.'));
const idArb = fc.string({ minLength: 1, maxLength: 128 });
const seqArb = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const dataTextArb = fc.jsonValue().map((v) => JSON.stringify(v));

const linkMessageArb = fc.record({ seq: seqArb, topic: topicArb, data: dataTextArb, ts: seqArb });
const linkRequestArb: fc.Arbitrary<LinkRequest> = fc.oneof(
  fc.record({
    op: fc.constant('append' as const),
    ref: seqArb,
    msgs: fc.array(
      fc.record(
        {
          topic: topicArb,
          data: dataTextArb,
          ts: seqArb,
          pid: fc.string({ maxLength: 512, unit: fc.nat({ max: 0xffff }).map((c) => String.fromCharCode(c)) }),
        },
        { requiredKeys: ['topic', 'data', 'ts'] },
      ),
      { minLength: 1, maxLength: 5 },
    ),
  }),
  // Generated pids: a producer id per frame and a counter per item (mixed with client pids).
  fc
    .record({
      ref: seqArb,
      producer: fc.stringMatching(/^[A-Za-z0-9_-]{12}$/),
      msgs: fc.array(
        fc.record({
          topic: topicArb,
          data: dataTextArb,
          ts: seqArb,
          id: fc.oneof(fc.nat({ max: 36 ** 10 - 1 }), fc.string({ minLength: 1, maxLength: 8 })),
        }),
        { minLength: 1, maxLength: 5 },
      ),
    })
    .map(({ ref, producer, msgs }) => ({
      op: 'append' as const,
      ref,
      producer,
      msgs: msgs.map(({ id, ...m }) => (typeof id === 'number' ? { ...m, counter: id } : { ...m, pid: id })),
    })),
  fc.record({
    op: fc.constant('consume' as const),
    name: fc.string({ minLength: 1, maxLength: 128 }),
    window: fc.integer({ min: 1, max: 1_000_000 }),
  }),
  fc.record({ op: fc.constant('ack' as const), seq: seqArb }),
  fc.record(
    { op: fc.constant('replay' as const), ref: seqArb, from: seqArb, to: seqArb, pattern: patternArb, limit: seqArb },
    { requiredKeys: ['op', 'ref', 'from', 'to', 'limit'] },
  ),
  fc.record({ op: fc.constant('seek' as const), ref: seqArb, ts: seqArb }),
);
const frameErrorCodeArb = fc.constantFrom(...FRAME_ERROR_CODES);
const linkReplyArb: fc.Arbitrary<LinkReply> = fc.oneof(
  fc.record({
    op: fc.constant('appended' as const),
    ref: seqArb,
    seqs: fc.array(seqArb, { minLength: 1, maxLength: 5 }),
  }),
  fc.record({
    op: fc.constant('consuming' as const),
    name: fc.string({ minLength: 1 }),
    next: seqArb,
    first: seqArb,
    last: seqArb,
  }),
  fc.record({ op: fc.constant('msgs' as const), msgs: fc.array(linkMessageArb, { minLength: 1, maxLength: 4 }) }),
  fc.record(
    {
      op: fc.constant('replayed' as const),
      ref: seqArb,
      msgs: fc.array(linkMessageArb, { maxLength: 4 }),
      first: seqArb,
      more: fc.boolean(),
      next: seqArb,
    },
    { requiredKeys: ['op', 'ref', 'msgs', 'first', 'more', 'next'] },
  ),
  fc.record({ op: fc.constant('sought' as const), ref: seqArb, seq: seqArb }),
  fc.record(
    { op: fc.constant('error' as const), ref: seqArb, code: frameErrorCodeArb, message: fc.string() },
    { requiredKeys: ['op', 'code', 'message'] },
  ),
);

t.test('property: the byte shortcuts for payloads and pids agree with decoding the text', async (t) => {
  // Bytes that matter to the shortcuts: quotes, backslash, control, DEL, printable, UTF-8 lead and
  // continuation bytes, and one that is never UTF-8.
  const byteArb = fc.constantFrom(0x22, 0x5c, 0x00, 0x1f, 0x7f, 0x20, 0x61, 0x7e, 0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xff);
  const bytesArb = fc
    .tuple(fc.boolean(), fc.array(byteArb, { maxLength: 12 }), fc.boolean())
    .map(([open, mid, close]) => Buffer.from([...(open ? [0x22] : []), ...mid, ...(close ? [0x22] : [])]));
  const isUtf8 = (b: Buffer) => Buffer.from(b.toString('utf8'), 'utf8').equals(b);
  /** The decoded item's `key`, or the code the frame was refused with. */
  const decoded = (frame: Buffer, key: 'data' | 'pid') =>
    codeOf(() => decodeLinkRequest(frame)) ??
    (decodeLinkRequest(frame) as unknown as { msgs: Record<string, string>[] }).msgs[0]![key];
  fc.assert(
    fc.property(bytesArb, (data) => {
      const text = data.toString('utf8');
      const expected = data.length > 0 && isUtf8(data) && isJsonText(text) ? text : 'BAD_FRAME';
      assert.equal(decoded(appendBytes({ data }), 'data'), expected);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.array(byteArb, { minLength: 1, maxLength: 12 }), (bytes) => {
      const pid = Buffer.from(bytes);
      assert.equal(decoded(appendBytes({ pid }), 'pid'), isUtf8(pid) ? pid.toString('utf8') : 'BAD_FRAME');
    }),
    { numRuns: 2000 },
  );
  t.pass('properties held');
});

t.test('property: items of one batch keep their own topics when topics share a length', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ topic: fc.constantFrom('ab', 'ac', 'ba', 'abc'), data: fc.constantFrom('1', '"x"') }), {
        minLength: 1,
        maxLength: 8,
      }),
      (items) => {
        const msgs = items.map((m, i) => ({ ...m, ts: i }));
        same(decodeLinkRequest(encodeLink({ op: 'append', ref: 1, msgs })), { op: 'append', ref: 1, msgs });
      },
    ),
    { numRuns: 500 },
  );
  t.equal(
    codeOf(() =>
      decodeLinkRequest(
        encodeLink({
          op: 'append',
          ref: 1,
          msgs: [
            { topic: 'abc', data: '1', ts: 1 },
            { topic: 'a.*', data: '1', ts: 1 },
          ],
        }),
      ),
    ),
    'BAD_TOPIC',
    'a topic after a valid one of the same length is still checked',
  );
});

t.test('property: every link request roundtrips through encodeLink / decodeLinkRequest', async (t) => {
  fc.assert(
    fc.property(linkRequestArb, (req) => {
      same(decodeLinkRequest(encodeLink(req)), req);
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('property: every link reply roundtrips through encodeLink / decodeLinkReply', async (t) => {
  fc.assert(
    fc.property(linkReplyArb, (reply) => {
      same(decodeLinkReply(encodeLink(reply)), reply);
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('property: v1 sub and unsub frames roundtrip with their id and since', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom('sub' as const, 'unsub' as const),
      patternArb,
      fc.option(idArb, { nil: undefined }),
      fc.option(seqArb, { nil: undefined }),
      (op, topic, id, since) => {
        const frame = {
          op,
          topic,
          ...(id === undefined ? {} : { id }),
          ...(op === 'sub' && since !== undefined ? { since } : {}),
        };
        same(decodeClientFrame(JSON.stringify(frame)), frame);
      },
    ),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('property: v1 server frames decode to what was encoded', async (t) => {
  fc.assert(
    fc.property(
      idArb,
      seqArb,
      topicArb,
      fc.jsonValue(),
      frameErrorCodeArb,
      fc.string(),
      (id, seq, topic, data, code, message) => {
        same(decodeServerFrame(encodeAck(id, seq)), { op: 'ack', id, seq });
        const msg = decodeServerFrame(encodeMsg(topic, seq, JSON.stringify(data), seq));
        same(msg, { op: 'msg', topic, seq, data: JSON.parse(JSON.stringify(data)) as unknown, ts: seq });
        same(decodeServerFrame(encodeError(code, message, id)), { op: 'error', id, code, message });
        same(decodeServerFrame(encodeSubscribed({ id, topic, seq, recovered: true })), {
          op: 'subscribed',
          id,
          topic,
          seq,
          recovered: true,
        });
        same(decodeServerFrame(encodeUnsubscribed({ topic })), { op: 'unsubscribed', topic });
      },
    ),
    { numRuns: 200 },
  );
  t.pass('property held');
});

t.test('property: malformed v1 frames are refused with the right code, echoing a valid id', async (t) => {
  // Values of the wrong type for every field (negative numbers are no valid `since` either).
  const wrongType = fc.oneof(
    fc.integer({ max: -1 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 2 }),
  );
  fc.assert(
    fc.property(idArb, fc.string({ minLength: 129, maxLength: 300 }), wrongType, (id, longId, junk) => {
      const tooLongTopic = 'a.'.repeat(128) + 'a';
      const cases: [unknown, string, string | undefined][] = [
        [{ op: 'pub', topic: 'a', data: 1, id: longId }, 'BAD_FRAME', undefined],
        [{ op: 'pub', topic: 'a', data: 1, id: junk }, 'BAD_FRAME', undefined],
        [{ op: 'pub', topic: tooLongTopic, data: 1, id }, 'BAD_TOPIC', id],
        [{ op: 'sub', topic: junk, id }, 'BAD_FRAME', id],
        [{ op: junk, topic: 'a', id }, 'BAD_FRAME', id],
        [{ op: 'sub', topic: 'a', since: junk, id }, 'BAD_FRAME', id],
        [{ op: 'pub', topic: 'a', id }, 'BAD_FRAME', id],
      ];
      for (const [frame, code, echoed] of cases) {
        try {
          decodeClientFrame(JSON.stringify(frame));
          return false;
        } catch (err) {
          if (!(err instanceof ProtocolError) || err.code !== code || err.id !== echoed) return false;
        }
      }
      return true;
    }),
    { numRuns: 200 },
  );
  t.pass('property held');
});

t.test('property: legacy keys match in any letter case, like Go', async (t) => {
  const caseOf = (word: string) =>
    fc
      .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
      .map((ups) => [...word].map((ch, i) => (ups[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''));
  fc.assert(
    fc.property(caseOf('topic'), caseOf('content'), fc.string(), fc.string(), (tk, ck, topic, content) => {
      same(decodeLegacy(JSON.stringify({ [tk]: topic, [ck]: content })), { topic, content });
    }),
    { numRuns: 200 },
  );
  t.pass('property held');
});

t.test('property: no decoder throws anything but a ProtocolError, whatever the text', async (t) => {
  const decoders = [decodeClientFrame, decodeServerFrame, decodeLegacy, decodeLinkRequest, decodeLinkReply];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary' }),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc
          .dictionary(fc.constantFrom('op', 'topic', 'data', 'id', 'since', 'msgs', 'ref', 'name'), fc.jsonValue())
          .map((o) => JSON.stringify(o)),
      ),
      (text) =>
        decoders.every((decode) => {
          try {
            decode(text);
            return true;
          } catch (err) {
            return err instanceof ProtocolError;
          }
        }),
    ),
    { numRuns: 500 },
  );
  t.pass('property held');
});

t.test('decodeLegacyToData: the sliced fast path agrees with decodeLegacy + contentToData', async (t) => {
  const slow = (text: string) => {
    const { topic, content } = decodeLegacy(text);
    return { topic, data: contentToData(content) };
  };
  const outcome = (f: () => unknown) => {
    try {
      return { ok: f() };
    } catch (err) {
      return { err: (err as { code?: string }).code };
    }
  };
  // Canonical frames, with every kind of character in topic and content.
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (topic, content) => {
      const text = JSON.stringify({ Topic: topic, Content: content });
      return JSON.stringify(decodeLegacyToData(text)) === JSON.stringify(slow(text));
    }),
    { numRuns: 2000 },
  );
  // Arbitrary text near the fast path's shape: same result or same refusal.
  const piece = fc.constantFrom('{"Topic":"', '","Content":"', '"}', '"', '\\', '\\"', 'a', 'é', '\n', '}', ' ');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
      const text = parts.join('');
      return JSON.stringify(outcome(() => decodeLegacyToData(text))) === JSON.stringify(outcome(() => slow(text)));
    }),
    { numRuns: 3000 },
  );
  t.same(decodeLegacyToData('{"Topic":"a.b","Content":"hi"}'), { topic: 'a.b', data: '"hi"' });
  t.same(decodeLegacyToData('{"Topic":"a","Content":""}'), { topic: 'a', data: '""' });
  t.same(decodeLegacyToData('{"topic":"a","content":"x\\"y"}'), { topic: 'a', data: '"x\\"y"' }, 'other shapes parse');
  t.throws(() => decodeLegacyToData('{"Topic":"a","Content":"}'), { code: 'BAD_FRAME' });
});

t.test(
  'encodeLegacyData: the same value as encodeLegacy(topic, dataToContent(data)), without the re-quote',
  async (t) => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.jsonValue(), (topic, value) => {
        const data = JSON.stringify(value);
        const fast = JSON.parse(encodeLegacyData(topic, data)) as unknown;
        const slow = JSON.parse(encodeLegacy(topic, dataToContent(data))) as unknown;
        return JSON.stringify(fast) === JSON.stringify(slow);
      }),
      { numRuns: 1000 },
    );
    t.equal(encodeLegacyData('a', '"hi"'), '{"Topic":"a","Content":"hi"}');
    t.equal(encodeLegacyData('a', '{"b":1}'), encodeLegacy('a', '{"b":1}'), 'other JSON values are their own text');
  },
);

t.test('property: isJsonText agrees with JSON.parse, on JSON and on arbitrary text', async (t) => {
  const parses = (s: string) => {
    try {
      JSON.parse(s);
      return true;
    } catch {
      return false;
    }
  };
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.string().map((s) => `"${s}"`),
        fc.string({ unit: 'binary' }),
      ),
      (s) => isJsonText(s) === parses(s),
    ),
    { numRuns: 2000 },
  );
  t.pass('property held');
});

t.test('property: the canonical pub shortcut decodes exactly as the general parse', async (t) => {
  const plain = fc.string({
    unit: fc.constantFrom('a', 'é', '✓', ' ', '.', '*', '>', '"', '\\', '\n', '😀'),
    maxLength: 20,
  });
  const outcome = (decode: (s: string) => unknown, text: string) => {
    try {
      return { frame: decode(text) };
    } catch (err) {
      const { code, id } = err as ProtocolError;
      return id === undefined ? { code } : { code, id };
    }
  };
  fc.assert(
    fc.property(
      fc.oneof(topicArb, plain),
      plain,
      fc.option(fc.oneof(plain, fc.constant('x'.repeat(129))), { nil: undefined }),
      (topic, data, id) => {
        const text = `{"op":"pub","topic":"${topic}","data":"${data}"${id === undefined ? '' : `,"id":"${id}"`}}`;
        same(outcome(decodeClientFrame, text), outcome(parseClientFrame, text));
      },
    ),
    { numRuns: 3000 },
  );
  t.same(decodeClientFrame('{"op":"pub","topic":"a.b","data":"hé ✓","id":"m-1"}'), {
    op: 'pub',
    topic: 'a.b',
    data: '"hé ✓"',
    id: 'm-1',
  });
  t.same(decodeClientFrame('{"op":"pub","topic":"a","data":"x"}'), { op: 'pub', topic: 'a', data: '"x"' });
});
