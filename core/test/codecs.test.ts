import fc from 'fast-check';
import t from 'tap';
import { ProtocolError } from '../src/errors.js';
import { contentToData, dataToContent, decodeLegacy, encodeLegacy } from '../src/legacy.js';
import { decodeLinkReply, decodeLinkRequest, encodeLink, type LinkReply } from '../src/link.js';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeAck,
  encodeError,
  encodeMsg,
  encodeSubscribed,
  encodeUnsubscribed,
} from '../src/v1.js';

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
  ['{"op":"pub","topic":7,"data":1}', 'BAD_TOPIC', undefined],
  ['{"op":"sub","topic":"a.>.b"}', 'BAD_TOPIC', undefined],
  ['{"op":"unsub"}', 'BAD_TOPIC', undefined],
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
    [
      '{"op":"append","ref":1,"msgs":[{"topic":"a","data":"1","ts":5}]}',
      { op: 'append', ref: 1, msgs: [{ topic: 'a', data: '1', ts: 5 }] },
    ],
    [
      '{"op":"append","ref":2,"msgs":[{"topic":"a","data":"1","ts":5,"pid":"u\\u0000x"}]}',
      { op: 'append', ref: 2, msgs: [{ topic: 'a', data: '1', ts: 5, pid: 'u\u0000x' }] },
    ],
    ['{"op":"consume","name":"sub-1","window":10}', { op: 'consume', name: 'sub-1', window: 10 }],
    ['{"op":"ack","seq":7}', { op: 'ack', seq: 7 }],
    [
      '{"op":"replay","ref":3,"from":1,"to":9,"limit":100,"pattern":"a.*"}',
      { op: 'replay', ref: 3, from: 1, to: 9, limit: 100, pattern: 'a.*' },
    ],
    ['{"op":"replay","ref":3,"from":1,"to":9,"limit":100}', { op: 'replay', ref: 3, from: 1, to: 9, limit: 100 }],
  ];
  for (const [text, want] of ok) t.same(decodeLinkRequest(text), want, text);
  const bad: [string, string][] = [
    ['{"op":"append","ref":1,"msgs":[]}', 'BAD_FRAME'],
    ['{"op":"append","ref":1}', 'BAD_FRAME'],
    ['{"op":"append","ref":-1,"msgs":[{"topic":"a","data":"1","ts":5}]}', 'BAD_FRAME'],
    ['{"op":"append","ref":1,"msgs":[null]}', 'BAD_FRAME'],
    ['{"op":"append","ref":1,"msgs":[{"topic":"a.*","data":"1","ts":5}]}', 'BAD_TOPIC'],
    ['{"op":"append","ref":1,"msgs":[{"topic":"a","data":1,"ts":5}]}', 'BAD_FRAME'],
    ['{"op":"append","ref":1,"msgs":[{"topic":"a","data":"1","ts":5,"pid":3}]}', 'BAD_FRAME'],
    ['{"op":"consume","name":"","window":10}', 'BAD_FRAME'],
    ['{"op":"consume","name":"a","window":0}', 'BAD_FRAME'],
    ['{"op":"ack","seq":"1"}', 'BAD_FRAME'],
    ['{"op":"replay","ref":3,"from":1,"to":9,"limit":100,"pattern":"a b"}', 'BAD_TOPIC'],
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
    { op: 'replayed', ref: 2, msgs: [], first: 1, more: false },
    { op: 'error', ref: 3, code: 'INTERNAL', message: 'x' },
  ] satisfies LinkReply[];
  for (const f of frames) t.same(decodeLinkReply(encodeLink(f)), f);
  t.equal(
    codeOf(() => decodeLinkReply('{"op":"append"}')),
    'BAD_FRAME',
  );
});
