import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import {
  MAX_CONTROL_LINE_BYTES,
  NatsParser,
  NatsParserError,
  natsConnect,
  natsPub,
  natsSub,
  type NatsEvent,
} from '../src/nats-parser.js';
import { holds } from '../src/nats-client.js';

/** Events with payloads copied to strings (the parser's payloads are views valid only in the callback). */
type Seen =
  Exclude<NatsEvent, { op: 'MSG' }> | { op: 'MSG'; subject: string; sid: string; reply?: string; payload: string };

function parseChunks(chunks: Buffer[], names = true): Seen[] {
  const seen: Seen[] = [];
  const parser = new NatsParser((ev) => {
    if (ev.op === 'MSG') {
      const msg: Seen = { op: 'MSG', subject: ev.subject, sid: ev.sid, payload: ev.payload.toString() };
      if (ev.reply !== undefined) msg.reply = ev.reply;
      seen.push(msg);
    } else seen.push(ev);
  }, names);
  for (const c of chunks) parser.feed(c);
  if (parser.buffered !== 0) throw new Error(`${parser.buffered} bytes left over after complete input`);
  return seen;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof NatsParserError) return err.code;
    throw err;
  }
}

const CASES: { name: string; input: string; events: Seen[] }[] = [
  {
    name: 'INFO then PING',
    input: 'INFO {"server_id":"x","max_payload":1048576}\r\nPING\r\n',
    events: [{ op: 'INFO', info: { server_id: 'x', max_payload: 1048576 } }, { op: 'PING' }],
  },
  { name: 'PONG and +OK', input: 'PONG\r\n+OK\r\n', events: [{ op: 'PONG' }, { op: '+OK' }] },
  {
    name: '-ERR with quotes stripped',
    input: "-ERR 'Authorization Violation'\r\n",
    events: [{ op: '-ERR', message: 'Authorization Violation' }],
  },
  {
    name: 'one MSG',
    input: 'MSG bench.t0 1 5\r\nhello\r\n',
    events: [{ op: 'MSG', subject: 'bench.t0', sid: '1', payload: 'hello' }],
  },
  {
    name: 'MSG with reply-to',
    input: 'MSG a.b 7 _INBOX.x 2\r\nhi\r\n',
    events: [{ op: 'MSG', subject: 'a.b', sid: '7', reply: '_INBOX.x', payload: 'hi' }],
  },
  {
    name: 'empty payload',
    input: 'MSG a 1 0\r\n\r\n',
    events: [{ op: 'MSG', subject: 'a', sid: '1', payload: '' }],
  },
  {
    name: 'payload containing CRLF and protocol words',
    input: 'MSG a 1 13\r\nPING\r\nMSG x\r\n\r\nPONG\r\n',
    events: [{ op: 'MSG', subject: 'a', sid: '1', payload: 'PING\r\nMSG x\r\n' }, { op: 'PONG' }],
  },
  {
    name: 'lower-case operations and tabs',
    input: 'msg\ta\t2\t3\r\nabc\r\nping\r\n',
    events: [{ op: 'MSG', subject: 'a', sid: '2', payload: 'abc' }, { op: 'PING' }],
  },
  {
    name: 'several messages back to back',
    input: 'MSG s 1 1\r\na\r\nMSG s 1 2\r\nbb\r\nPING\r\nMSG s 2 3\r\nccc\r\n',
    events: [
      { op: 'MSG', subject: 's', sid: '1', payload: 'a' },
      { op: 'MSG', subject: 's', sid: '1', payload: 'bb' },
      { op: 'PING' },
      { op: 'MSG', subject: 's', sid: '2', payload: 'ccc' },
    ],
  },
];

t.test('parses whole frames', async (t) => {
  for (const c of CASES) t.same(parseChunks([Buffer.from(c.input)]), c.events, c.name);
});

t.test('parses the same stream split at every byte boundary', async (t) => {
  for (const c of CASES) {
    const bytes = Buffer.from(c.input);
    for (let cut = 1; cut < bytes.length; cut++) {
      const got = parseChunks([bytes.subarray(0, cut), bytes.subarray(cut)]);
      if (!isDeepStrictEqual(got, c.events)) {
        t.fail(`${c.name}: split at ${cut}`, { got, wanted: c.events });
      }
    }
    t.same(parseChunks([...bytes].map((b) => Buffer.from([b]))), c.events, `${c.name}: one byte per frame`);
  }
});

t.test('all cases concatenated, in random-sized frames', async (t) => {
  const all = Buffer.from(CASES.map((c) => c.input).join(''));
  const wanted = CASES.flatMap((c) => c.events);
  let seed = 42;
  const rand = (n: number): number => 1 + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let round = 0; round < 50; round++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length;) {
      const n = rand(40);
      chunks.push(all.subarray(i, i + n));
      i += n;
    }
    const got = parseChunks(chunks);
    if (!isDeepStrictEqual(got, wanted)) t.fail(`round ${round}`, { got, wanted });
  }
  t.pass('50 random splits');
});

t.test('names=false skips subject and sid but keeps payloads', async (t) => {
  t.same(parseChunks([Buffer.from('MSG a.b 9 3\r\nxyz\r\n')], false), [
    { op: 'MSG', subject: '', sid: '', payload: 'xyz' },
  ]);
});

t.test('broken streams fail with a code', async (t) => {
  const bad: [string, string][] = [
    ['HELLO\r\n', 'NATS_BAD_OP'],
    ['MSG a 1\r\n', 'NATS_BAD_LINE'],
    ['MSG a 1 2 3 4\r\n', 'NATS_BAD_LINE'],
    ['MSG a 1 x\r\n', 'NATS_BAD_LINE'],
    ['MSG a 1 -1\r\n', 'NATS_BAD_LINE'],
    ['MSG a 1 2\r\nabcd\r\n', 'NATS_BAD_PAYLOAD'],
    ['PING\n', 'NATS_BAD_LINE'],
    ['INFO nope\r\n', 'NATS_BAD_LINE'],
    ['INFO 3\r\n', 'NATS_BAD_LINE'],
  ];
  for (const [input, code] of bad) {
    t.equal(
      codeOf(() => new NatsParser(() => undefined).feed(Buffer.from(input))),
      code,
      JSON.stringify(input),
    );
  }
  const endless = Buffer.alloc(MAX_CONTROL_LINE_BYTES + 1, 0x41);
  t.equal(
    codeOf(() => new NatsParser(() => undefined).feed(endless)),
    'NATS_LINE_TOO_LONG',
    'a control line without end is bounded',
  );
});

t.test('client frames', async (t) => {
  t.equal(natsSub('bench.t1', '3'), 'SUB bench.t1 3\r\n');
  t.equal(natsPub('s', 'héllo'), 'PUB s 6\r\nhéllo\r\n', 'length in bytes');
  const connect = natsConnect('hello', 'test');
  t.match(connect, /^CONNECT \{.*\}\r\nPING\r\n$/);
  const opts = JSON.parse(connect.slice('CONNECT '.length, connect.indexOf('\r\n'))) as Record<string, unknown>;
  t.match(opts, { verbose: false, pedantic: false, protocol: 1, headers: false, user: 'hello', pass: 'test' });
  t.notOk('user' in JSON.parse(natsConnect().slice(8, natsConnect().indexOf('\r\n'))), 'no credentials when none');
});

t.test('HMSG: the payload after the headers, in one chunk or split anywhere', async (t) => {
  const headers = 'NATS/1.0\r\nNats-Msg-Id: a1\r\n\r\n';
  const wire = `HMSG s.1 7 $JS.ACK.x ${headers.length} ${headers.length + 5}\r\n${headers}hello\r\nPING\r\n`;
  const want = [{ op: 'MSG', subject: 's.1', sid: '7', reply: '$JS.ACK.x', payload: 'hello' }, { op: 'PING' }];
  t.same(parseChunks([Buffer.from(wire)]), want);
  for (let cut = 1; cut < wire.length; cut += 7) {
    t.same(parseChunks([Buffer.from(wire.slice(0, cut)), Buffer.from(wire.slice(cut))]), want, `cut at ${cut}`);
  }
  t.same(parseChunks([Buffer.from(`hmsg s 1 ${headers.length} ${headers.length}\r\n${headers}\r\n`)], false), [
    { op: 'MSG', subject: '', sid: '', payload: '' },
  ]);
  t.throws(() => parseChunks([Buffer.from('HMSG s 1 9 5\r\n')]), { code: 'NATS_BAD_LINE' }, 'headers beyond the size');
  t.equal(natsPub('a', 'xy', '_INBOX.r'), 'PUB a _INBOX.r 2\r\nxy\r\n');
  t.match(natsConnect('u', 'p', true), /"headers":true/);
});

t.test('onPayload: MSG and HMSG payloads as ranges of the bytes, no MSG events', async (t) => {
  const headers = 'NATS/1.0\r\nA: b\r\n\r\n';
  const wire =
    `MSG a 1 3\r\nabc\r\nPING\r\nHMSG b 2 ${headers.length} ${headers.length + 2}\r\n${headers}xy\r\n` +
    'MSG c 3 0\r\n\r\n';
  for (const cut of [0, 5, 13, 30, wire.length - 3]) {
    const payloads: string[] = [];
    const events: string[] = [];
    const parser = new NatsParser(
      (ev) => events.push(ev.op),
      false,
      (data, start, end) => payloads.push(data.toString('latin1', start, end)),
    );
    if (cut > 0) parser.feed(Buffer.from(wire.slice(0, cut)));
    parser.feed(Buffer.from(wire.slice(cut)));
    t.same(payloads, ['abc', 'xy', ''], `payloads, cut at ${cut}`);
    t.same(events, ['PING'], 'only the other operations as events');
  }
});

t.test('holds: a needle inside a range of the bytes, never past it', async (t) => {
  const data = Buffer.from('{"seq":1}{"error":{}}{"seq":2}');
  const key = Buffer.from('"error"');
  t.equal(holds(data, 0, 9, key), false, 'the first PubAck');
  t.equal(holds(data, 9, 21, key), true, 'the error');
  t.equal(holds(data, 21, data.length, key), false, 'the last');
  t.equal(holds(data, 0, 14, key), false, 'cut inside the needle');
  t.equal(holds(data, 11, 21, key), false, 'the needle starts before the range');
});
