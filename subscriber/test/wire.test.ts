import { encodeLegacyData, encodeMsg } from '@wsq/core';
import fc from 'fast-check';
/**
 * A pre-built fan-out frame is byte for byte what ws would send for the same text, at every
 * length-header boundary, and a ws receiver reads it back as that text. A client writes them
 * to its raw socket, or through ws's sender when an extension was negotiated.
 */
import { createRequire } from 'node:module';
import t from 'tap';
import { logSink } from '@wsq/core/testing';
import { Client, type ClientSocket, type KickReason } from '../src/client.js';
import { legacyFrame, msgFrame, textFrame } from '../src/wire.js';

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
interface WsInternals {
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
  Receiver: new (options: { isServer: boolean }) => NodeJS.WritableStream & {
    on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  };
}
const { Sender, Receiver } = createRequire(import.meta.url)('ws') as WsInternals;

const LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70000];

t.test('textFrame matches ws framing at every length boundary', async (t) => {
  for (const n of LENGTHS) {
    for (const text of ['x'.repeat(n), 'é'.repeat(Math.ceil(n / 2))]) {
      const f = textFrame(text);
      const payload = Buffer.from(text);
      const expected = Buffer.concat(
        Sender.frame(payload, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false }),
      );
      t.ok(f.bytes.equals(expected), `frame of ${payload.length} bytes`);
      t.ok(f.payload.equals(payload), `payload of ${payload.length} bytes`);
    }
  }
});

t.test('a ws receiver reads frames written back to back as the texts', async (t) => {
  const texts = LENGTHS.map((n, i) => `${i}:${'€'.repeat(n)}`);
  const receiver = new Receiver({ isServer: false });
  const got: string[] = [];
  receiver.on('message', (data, isBinary) => {
    t.equal(isBinary, false);
    got.push(data.toString());
  });
  receiver.write(Buffer.concat(texts.map((s) => textFrame(s).bytes)));
  t.same(got, texts);
});

/** The texts of the WebSocket frames in `bytes`, read back by a ws receiver. */
function framesIn(bytes: Buffer): string[] {
  const receiver = new Receiver({ isServer: false });
  const texts: string[] = [];
  receiver.on('message', (data) => texts.push(data.toString()));
  receiver.write(bytes);
  return texts;
}

/** A ws-like socket: `ws.send` calls and raw socket writes (each write's frames), recorded. */
function fakeSocket(extensions: string, bufferedAmount = 0) {
  const calls: string[] = [];
  const ws = {
    readyState: 1,
    bufferedAmount,
    extensions,
    send(data: Buffer | string, options?: unknown) {
      if (typeof options === 'function') options = (options as () => void)() as undefined;
      calls.push(options === undefined ? `send ${String(data)}` : `send ${String(data)} ${JSON.stringify(options)}`);
    },
    close(code?: number) {
      calls.push(`close ${code}`);
    },
    terminate() {},
    _socket: {
      write: (b: Buffer) => calls.push(`write ${framesIn(b).join(',')}`) > 0,
    },
  };
  return { ws, calls };
}

function client(ws: ClientSocket, kicks: KickReason[] = [], maxBufferedBytes = 100): Client {
  const principal = { name: 'u', publish: [], subscribe: ['>'] };
  const limits = { maxBufferedBytes, maxReplayBufferMessages: 10 };
  return new Client(ws, 'legacy', principal, logSink('t').log, limits, (_c, reason) => kicks.push(reason));
}

t.test('deliver collects pre-built frames; flush writes them whole, in order, in one write', async (t) => {
  const { ws, calls } = fakeSocket('');
  const c = client(ws);
  t.equal(c.deliver(textFrame('a')), true);
  t.equal(c.deliver(textFrame('b')), true);
  t.same(calls, [], 'nothing written before the flush');
  c.flush();
  t.same(calls, ['write a,b']);
  c.flush();
  t.same(calls, ['write a,b'], 'an empty flush writes nothing');
  t.equal(c.deliver(textFrame('c')), true);
  c.flush();
  t.same(calls, ['write a,b', 'write c'], 'a single frame is written as it is');
});

t.test('collected frames go out before any other frame on the socket', async (t) => {
  const { ws, calls } = fakeSocket('');
  const c = client(ws);
  c.deliver(textFrame('a'));
  c.send('reply');
  c.deliver(textFrame('b'));
  void c.sendPaced('replayed');
  c.deliver(textFrame('c'));
  c.close(1001, 'going away');
  t.same(calls, ['write a', 'send reply', 'write b', 'send replayed', 'write c', 'close 1001']);
});

t.test('with an extension (permessage-deflate) deliver goes through ws.send', async (t) => {
  const { ws, calls } = fakeSocket('permessage-deflate');
  const c = client(ws);
  t.equal(c.deliver(textFrame('a')), true);
  t.same(calls, ['send a {"binary":false}']);
  c.flush();
  t.same(calls, ['send a {"binary":false}'], 'nothing collected');
});

t.test('deliver closes a socket past the limit with 1013 and sends nothing', async (t) => {
  const { ws, calls } = fakeSocket('', 101);
  const kicks: KickReason[] = [];
  const c = client(ws, kicks);
  t.equal(c.deliver(textFrame('a')), false);
  t.same(kicks, ['slow_consumer']);
  t.same(calls, ['close 1013']);
  t.equal(c.deliver(textFrame('b')), false, 'nothing after the kick');
});

t.test('collected bytes count as unsent: past the limit 1013 follows what was collected', async (t) => {
  const { ws, calls } = fakeSocket('', 10);
  const kicks: KickReason[] = [];
  const c = client(ws, kicks);
  const frame = (s: string) => textFrame(s.repeat(38)); // 40 bytes
  t.equal(c.deliver(frame('a')), true, '10 unsent');
  t.equal(c.deliver(frame('b')), true, '50 unsent');
  t.equal(c.deliver(frame('c')), true, '90 unsent');
  t.same(calls, []);
  t.equal(c.deliver(frame('d')), false, '130 unsent: past 100');
  t.same(kicks, ['slow_consumer']);
  t.same(calls, [`write ${['a', 'b', 'c'].map((s) => s.repeat(38)).join(',')}`, 'close 1013']);
  c.flush();
  t.equal(calls.length, 2, 'nothing after the close frame');
});

t.test('property: legacyFrame writes the bytes of textFrame(encodeLegacyData(…))', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.stringMatching(/^[!-~]{1,40}$/), fc.string({ unit: 'binary', maxLength: 20 })),
      fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 300 }).map((s) => JSON.stringify(s)),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.integer({ min: 100, max: 70_000 }).map((n) => JSON.stringify('é'.repeat(n))),
      ),
      (topic, data) => legacyFrame(topic, data).bytes.equals(textFrame(encodeLegacyData(topic, data)).bytes),
    ),
    { numRuns: 400 },
  );
  t.pass('property held');
});

t.test('property: msgFrame writes the bytes of textFrame(encodeMsg(…))', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(fc.stringMatching(/^[!-~]{1,40}$/), fc.string({ unit: 'binary', maxLength: 20 })),
      fc.oneof(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(0, 9, 10, 99, 100, 2 ** 53 - 1), fc.double()),
      fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 300 }).map((s) => JSON.stringify(s)),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.integer({ min: 100, max: 70_000 }).map((n) => JSON.stringify('é'.repeat(n))),
      ),
      fc.oneof(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.constant(1_764_000_000_000)),
      (topic, seq, data, ts) =>
        msgFrame(topic, seq, data, ts).bytes.equals(textFrame(encodeMsg(topic, seq, data, ts)).bytes),
    ),
    { numRuns: 400 },
  );
  t.pass('property held');
});
