import t from 'tap';
import { V1_PROTOCOL, decodeClientFrame, decodeLegacy, encodeLegacy, encodeMsg } from '@wsq/core';
import { MIN_PAYLOAD_BYTES, encodePayload, encodeProbe, newStamp, nowMs, parseStamp } from '../src/payload.js';
import { V1_SUBPROTOCOL, encodeWsqPublish, encodeWsqSubscribe } from '../src/wsq-client.js';

t.test('payloads have the asked size and carry index and send time', async (t) => {
  const sent = nowMs();
  for (const bytes of [MIN_PAYLOAD_BYTES, 64, 1000]) {
    const p = encodePayload(123456789, sent, bytes);
    t.equal(p.length, bytes, `${bytes} bytes`);
    const s = parseStamp(Buffer.from(p), newStamp());
    t.equal(s.kind, 'msg');
    t.equal(s.index, 123456789);
    t.ok(Math.abs(s.sentAtMs - sent) < 0.001, 'time to the microsecond');
  }
  t.equal(encodeProbe(64).length, 64);
  t.equal(parseStamp(Buffer.from(encodeProbe(64)), newStamp()).kind, 'probe');
});

t.test('the payload is found inside every wire format without parsing the frame', async (t) => {
  const p = encodePayload(7, 1764000000000.25, 64);
  const frames = [
    encodeLegacy('bench.t0', p),
    encodeWsqPublish('wsq-v1', 'bench.t0', p),
    encodeMsg('bench.t0', 9, JSON.stringify(p), 1764000000001),
    p,
  ];
  for (const f of frames) {
    JSON.parse(f.startsWith('{') ? f : JSON.stringify(f));
    const s = parseStamp(Buffer.from(f), newStamp());
    t.same([s.kind, s.index, s.sentAtMs], ['msg', 7, 1764000000000.25], f);
  }
});

t.test('anything else is not a stamp', async (t) => {
  for (const f of [
    '',
    '{"op":"subscribed","id":"s0"}',
    '~',
    '~~',
    '~12',
    '~12~',
    '~12~3',
    '~a~1~',
    '~1~x~',
    '~1~1.2.3~',
  ]) {
    t.equal(parseStamp(Buffer.from(f), newStamp()).kind, 'none', JSON.stringify(f));
  }
});

t.test('wsq frames agree with core’s codecs (restated so workers need not load core)', async (t) => {
  t.equal(V1_SUBPROTOCOL, V1_PROTOCOL);
  const p = encodePayload(3, 1.5, 64);
  t.equal(encodeWsqPublish('wsq-legacy', 'bench.t0', p), encodeLegacy('bench.t0', p));
  t.equal(encodeWsqSubscribe('wsq-legacy', 'bench.t0', 'x'), encodeLegacy('bench.t0', 'sub'));
  t.same(decodeClientFrame(encodeWsqPublish('wsq-v1', 'bench.t0', p)), {
    op: 'pub',
    topic: 'bench.t0',
    data: JSON.stringify(p),
  });
  t.same(
    decodeClientFrame(encodeWsqPublish('wsq-v1', 'bench.t0', p, 'Ab-_9.z')),
    { op: 'pub', topic: 'bench.t0', data: JSON.stringify(p), id: 'Ab-_9.z' },
    '--acks: the frame carries the id',
  );
  t.match(
    encodeWsqPublish('wsq-v1', 'bench.t0', p, 'Ab-_9.z'),
    /^\{"op":"pub","topic":"bench\.t0","data":"[^"]*","id":"Ab-_9\.z"\}$/,
    'the id last: the canonical form the publisher slices instead of parsing (core/src/protocol/v1.ts)',
  );
  t.same(decodeClientFrame(encodeWsqSubscribe('wsq-v1', 'a.*', 's1')), { op: 'sub', topic: 'a.*', id: 's1' });
  t.same(decodeLegacy(encodeWsqPublish('wsq-legacy', 'a', p)), { topic: 'a', content: p });
  t.ok(encodeMsg('a', 1, '"x"', 2).startsWith('{"op":"msg"'), 'v1 deliveries start as the client expects');
});

t.test('wsq frames', async (t) => {
  t.same(JSON.parse(encodeWsqPublish('wsq-v1', 'a.b', '~1~2~')), { op: 'pub', topic: 'a.b', data: '~1~2~' });
  t.same(JSON.parse(encodeWsqPublish('wsq-legacy', 'a.b', 'x')), { Topic: 'a.b', Content: 'x' });
  t.same(JSON.parse(encodeWsqSubscribe('wsq-v1', 'a.b', 's1')), { op: 'sub', topic: 'a.b', id: 's1' });
  t.same(JSON.parse(encodeWsqSubscribe('wsq-legacy', 'a.b', 's1')), { Topic: 'a.b', Content: 'sub' });
});
