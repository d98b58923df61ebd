import t from 'tap';
import { decodeClientFrame, decodeLegacy } from '@wsq/core';
import {
  ID_DIGITS,
  fillFrame,
  frameBody,
  maskedHeader,
  publishTemplate,
  writeDecimal,
  writeStamp,
} from '../src/frames.js';
import { NatsParser, type NatsEvent } from '../src/nats-parser.js';
import { encodePayload, newStamp, parseStamp } from '../src/payload.js';
import { AnswerClock } from '../src/transport.js';
import { encodeWsqPublish } from '../src/wsq-client.js';

const SENT = 1764000000123.457;

function filled(kind: Parameters<typeof publishTemplate>[0], topic: string, bytes: number, index: number): Buffer {
  const tpl = publishTemplate(kind, topic, bytes);
  const buf = Buffer.alloc(tpl.bytes.length + 3, 0xff);
  t.equal(fillFrame(buf, 1, tpl, index, SENT), 1 + tpl.bytes.length, 'returns the offset after the frame');
  t.equal(buf[0], 0xff, 'nothing written before the frame');
  t.equal(buf[buf.length - 1], 0xff, 'nothing written after it');
  return buf.subarray(1, 1 + tpl.bytes.length);
}

t.test('the stamp written in place is encodePayload’s, byte for byte', async (t) => {
  for (const [index, bytes] of [
    [0, 32],
    [7, 64],
    [123456789, 64],
    [42, 1000],
  ]) {
    const buf = Buffer.from('x'.repeat(bytes));
    writeStamp(buf, 0, index, SENT);
    t.equal(buf.toString(), encodePayload(index, SENT, bytes), `index ${index}, ${bytes} bytes`);
  }
  const buf = Buffer.alloc(8);
  t.equal(writeDecimal(buf, 1, 0), 2, 'zero is one digit');
  t.equal(buf[1], 0x30);
  // A time whose microseconds round up to the next millisecond.
  const b = Buffer.from('x'.repeat(40));
  writeStamp(b, 0, 1, 1000.9996);
  t.equal(parseStamp(b, newStamp()).sentAtMs, 1001, 'microseconds carry into the milliseconds');
});

t.test('masked headers with a zero key, for every length form', async (t) => {
  t.same([...maskedHeader(1, 125)], [0x81, 0x80 | 125, 0, 0, 0, 0]);
  t.same([...maskedHeader(2, 126)], [0x82, 0x80 | 126, 0, 126, 0, 0, 0, 0]);
  t.same([...maskedHeader(1, 65535)], [0x81, 0x80 | 126, 255, 255, 0, 0, 0, 0]);
  const big = maskedHeader(1, 70000);
  t.same([big[0], big[1], Number(big.readBigUInt64BE(2)), big.length], [0x81, 0x80 | 127, 70000, 14]);
});

t.test('wsq templates are the frames core decodes, and the id is unique per message', async (t) => {
  const legacy = frameBody(filled({ kind: 'wsq-legacy' }, 'bench.t1', 64, 5)).toString();
  t.equal(legacy, encodeWsqPublish('wsq-legacy', 'bench.t1', encodePayload(5, SENT, 64)));
  t.same(decodeLegacy(legacy), { topic: 'bench.t1', content: encodePayload(5, SENT, 64) });
  const v1 = frameBody(filled({ kind: 'wsq-v1', idPrefix: undefined }, 'bench.t1', 64, 5)).toString();
  t.equal(v1, encodeWsqPublish('wsq-v1', 'bench.t1', encodePayload(5, SENT, 64)));
  const withId = filled({ kind: 'wsq-v1', idPrefix: 'abc.' }, 'bench.t1', 200, 77);
  t.equal(withId[1], 0x80 | 126, 'a 200-byte payload takes the 16-bit length form');
  const frame = decodeClientFrame(frameBody(withId).toString());
  t.match(frame, {
    op: 'pub',
    topic: 'bench.t1',
    data: encodePayload(77, SENT, 200),
    id: `abc.${'77'.padStart(ID_DIGITS, '0')}`,
  });
});

t.test('NATS and JetStream templates parse as the server reads them', async (t) => {
  const pub = frameBody(filled({ kind: 'nats' }, 'bench.t2', 64, 3)).toString();
  t.equal(pub, `PUB bench.t2 64\r\n${encodePayload(3, SENT, 64)}\r\n`);
  const hpub = frameBody(filled({ kind: 'jetstream', replyTo: '_INBOX.x.ack', idPrefix: 'q.' }, 'bench.t2', 64, 9));
  // The server's MSG to a subscriber has HPUB's shape after the sid: feed it back as HMSG.
  const line = hpub.toString().replace(/^HPUB bench\.t2 _INBOX\.x\.ack/, 'HMSG bench.t2 1 _INBOX.x.ack');
  const seen: NatsEvent[] = [];
  new NatsParser((ev) => seen.push(ev.op === 'MSG' ? { ...ev, payload: Buffer.from(ev.payload) } : ev)).feed(
    Buffer.from(line),
  );
  t.equal(seen.length, 1);
  const msg = seen[0] as Extract<NatsEvent, { op: 'MSG' }>;
  t.match(msg, { subject: 'bench.t2', sid: '1', reply: '_INBOX.x.ack' });
  t.equal(msg.payload.toString(), encodePayload(9, SENT, 64), 'the payload, headers skipped');
  t.match(hpub.toString(), `Nats-Msg-Id: q.${'9'.padStart(ID_DIGITS, '0')}\r\n`, 'the id is a Nats-Msg-Id header');
});

t.test('AnswerClock: answers pop the oldest unanswered message, kept per burst', async (t) => {
  const c = new AnswerClock();
  t.equal(c.answered(5), 0, 'nothing sent: nothing waited');
  c.sent(2, 100);
  c.sent(0, 150);
  c.sent(1, 200);
  t.same([c.answered(110), c.answered(120), c.answered(230), c.answered(300)], [10, 20, 30, 0]);
  for (let i = 0; i < 3000; i++) c.sent(1, i);
  let sum = 0;
  for (let i = 0; i < 3000; i++) sum += c.answered(3000);
  t.equal(sum, 3000 * 3000 - (2999 * 3000) / 2, 'in order across the compaction of answered bursts');
});
