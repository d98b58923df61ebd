import fc from 'fast-check';
import t from 'tap';
import { isValidPattern, isValidTopic, matchesPattern } from '../src/protocol/topics.js';
import { patternToFilter, subjectToTopic, topicToSubject } from '../src/queue/jetstream/subjects.js';
import { streamMismatch, wantedStream } from '../src/queue/jetstream/stream-config.js';
import { msgIdOf, plainPubAckSeq, publishHeaders, readPubAck } from '../src/queue/jetstream/producer.js';
import { checkLinkValues, isNatsQueue, toLinkConfig } from '../src/config/service-config.js';
import { natsServers } from '../src/queue/jetstream/home.js';
import type { ConfigValues } from '../src/config/config.js';

/** NATS's own rules: a publish subject has non-empty tokens of no whitespace and no wildcard token. */
function isNatsPublishSubject(s: string): boolean {
  return s
    .split('.')
    .every((tok) => tok.length > 0 && !/\s/.test(tok) && tok !== '*' && tok !== '>' && !/[*>]/.test(tok));
}

/** NATS subject matching of a filter against a subject. */
function natsMatch(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
/** Characters with meaning to NATS or to the escape, often. */
const tricky = fc.constantFrom('.', '*', '>', '%', '2', 'A', '3', 'E', 'a', '$');
const topicish = fc
  .array(fc.oneof(printable, tricky, tricky), { minLength: 1, maxLength: 40 })
  .map((cs) => cs.join(''));
const topic = topicish.filter((s) => isValidTopic(s));
const pattern = topicish.filter((s) => isValidPattern(s));

t.test('every valid topic maps to a valid NATS subject and back', async (t) => {
  fc.assert(
    fc.property(topic, (tp) => {
      const subject = topicToSubject(tp);
      return subject.startsWith('wsq.') && isNatsPublishSubject(subject) && subjectToTopic(subject) === tp;
    }),
    { numRuns: 5000 },
  );
  // The longest topic of the most escaped characters still round-trips.
  const long = '*%>'.repeat(85);
  t.equal(long.length, 255);
  t.equal(subjectToTopic(topicToSubject(long)), long);
  t.equal(topicToSubject('chat.eu'), 'wsq.chat.eu', 'plain topics are readable');
  t.equal(topicToSubject('a*b.x>.100%'), 'wsq.a%2Ab.x%3E.100%25');
});

t.test('patterns filter exactly the subjects of the topics they match', async (t) => {
  fc.assert(
    fc.property(pattern, topic, (p, tp) => natsMatch(patternToFilter(p), topicToSubject(tp)) === matchesPattern(p, tp)),
    { numRuns: 5000 },
  );
  // Patterns drawn from a topic with wildcards put in, so that matches are common too.
  fc.assert(
    fc.property(topic, fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }), fc.boolean(), (tp, stars, gt) => {
      const toks = tp.split('.').map((tok, i) => (stars[i % stars.length] ? '*' : tok));
      if (gt && toks.length > 1) toks[toks.length - 1] = '>';
      const p = toks.join('.');
      if (!isValidPattern(p)) return true;
      return natsMatch(patternToFilter(p), topicToSubject(tp)) === matchesPattern(p, tp) && matchesPattern(p, tp);
    }),
    { numRuns: 3000 },
  );
  t.equal(patternToFilter('chat.*'), 'wsq.chat.*');
  t.equal(patternToFilter('>'), 'wsq.>');
  t.equal(patternToFilter('a*.*.>'), 'wsq.a%2A.*.>');
});

t.test('subjects that are not ours have no topic', async (t) => {
  t.equal(subjectToTopic('other.a'), undefined);
  t.equal(subjectToTopic('wsq.a%2a'), undefined, 'a lower-case escape is not one we write');
  t.equal(subjectToTopic('wsq.100%'), undefined, 'a bare % is not one we write');
});

t.test('message ids: printable pids kept, others encoded, never confused', async (t) => {
  t.equal(msgIdOf('alice\u0000r1'), '~' + Buffer.from('alice\u0000r1').toString('base64url'));
  t.equal(msgIdOf('wsq:abcdefghijkl:1z'), 'wsq:abcdefghijkl:1z');
  t.not(msgIdOf('~x'), '~x', 'a pid starting with ~ is encoded');
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (a, b) => {
      const ma = msgIdOf(a);
      return (a === b) === (ma === msgIdOf(b)) && /^[!-~]*$/.test(ma);
    }),
  );
});

t.test('the stream wanted from the flags, and the check of one found', async (t) => {
  const want = wantedStream({
    stream: 'WSQ',
    streamReplicas: 3,
    retainMessages: 0,
    retainBytes: 1000,
    retainMs: 60_000,
    dedupeWindowMs: 120_000,
  });
  t.same(
    { max_msgs: want.max_msgs, max_bytes: want.max_bytes, max_age: want.max_age, dup: want.duplicate_window },
    { max_msgs: -1, max_bytes: 1000, max_age: 60_000e6, dup: 60_000e6 },
    'unlimited is -1; the duplicate window is cut to max_age',
  );
  t.equal(
    wantedStream({
      ...want,
      stream: 'X',
      streamReplicas: 1,
      retainMessages: 1,
      retainBytes: 0,
      retainMs: 0,
      dedupeWindowMs: 0,
    }).duplicate_window,
    1e6,
    'dedupe off: 1 ms',
  );
  t.equal(streamMismatch({ ...want, subjects: ['wsq.>', 'other'] } as never, want), undefined, 'a stream that fits');
  t.equal(streamMismatch({ ...want, max_msgs: 0 } as never, want), undefined, 'unlimited spelled 0');
  const m = streamMismatch({ ...want, num_replicas: 1 } as never, want);
  t.match(m, /num_replicas is 1, but --stream-replicas asks for 3/);
  t.match(
    streamMismatch({ ...want, max_age: 5e6 } as never, want),
    /max_age is 5 ms, but --retain-ms asks for 60000 ms/,
  );
  t.match(streamMismatch({ ...want, subjects: ['foo.>'] } as never, want), /subjects/);
  t.match(streamMismatch({ ...want, storage: 'memory' } as never, want), /storage/);
});

t.test('--queue: wss:// or a list of nats:// / tls:// URLs, never both', async (t) => {
  const ok = (v: Record<string, unknown>) => t.doesNotThrow(() => checkLinkValues(v), JSON.stringify(v));
  const bad = (v: Record<string, unknown>, field: string, re: RegExp) =>
    t.throws(() => checkLinkValues(v), { field, message: re }, JSON.stringify(v));
  ok({ queue: 'wss://localhost:8080' });
  ok({ queue: 'nats://a:4222' });
  ok({ queue: 'nats://a:4222, nats://b:4222,tls://c:4222', stream: 'WSQ_1', name: 'sub-1' });
  ok({ queue: 'nats://a:4222', queueToken: 's3cret' });
  ok({ queue: 'nats://a:4222', queueUser: 'u', queuePassword: 'p' });
  bad({ queue: 'nats://a:4222,wss://b:8080' }, 'queue', /mixes wss:\/\//);
  bad({ queue: 'wss://b:8080,nats://a:4222' }, 'queue', /mixes wss:\/\//);
  bad({ queue: 'nats://a:4222,http://b' }, 'queue', /not a nats/);
  bad({ queue: 'nats://a:4222,' }, 'queue', /not a URL/);
  bad({ queue: 'nats://u:p@a:4222' }, 'queue', /credentials/);
  bad({ queue: 'nats://a:4222/x' }, 'queue', /host and port only/);
  bad({ queue: 'nats://a:4222', queueToken: 't', queueUser: 'u', queuePassword: 'p' }, 'queueToken', /not both/);
  bad({ queue: 'nats://a:4222', stream: 'a.b' }, 'stream', /1-64/);
  bad({ queue: 'nats://a:4222', name: 'my sub' }, 'name', /durable consumer name/);
  bad({ queue: 'nats://a:4222', queueUser: 'u' }, 'queuePassword', /required/);
  bad({ queue: 'wss://localhost:8080', queueToken: 't' }, 'queueToken', /NATS queues/);
  bad({ queue: 'https://localhost:8080' }, 'queue', /wss:\/\/ URL/);
  t.ok(isNatsQueue(' tls://a:1'));
  t.notOk(isNatsQueue('wss://a:1'));
  t.same(natsServers('nats://a:1, nats://b:2,'), ['nats://a:1', 'nats://b:2']);
  const demo = (queue: string) => toLinkConfig({ queue, demo: true } as unknown as ConfigValues).queueUser;
  t.equal(demo('wss://localhost:8080'), 'hello', 'the demo user on the msgqueue link');
  t.equal(demo('nats://a:4222'), undefined, 'not on NATS, whose users are its own');
});

t.test('PubAcks: the plain ones read off the bytes, the rest parsed as JSON', (t) => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  const reply = (s: string, hasError = false) => ({
    data: bytes(s),
    string: () => s,
    headers: hasError ? ({ hasError: true, code: 503, description: 'No Responders' } as never) : undefined,
  });
  t.equal(plainPubAckSeq(bytes('{"stream":"WSQ","seq":42}')), 42);
  t.equal(plainPubAckSeq(bytes('{"stream":"WSQ","seq":7,"duplicate":true}')), 7, 'a duplicate names the original seq');
  t.equal(plainPubAckSeq(bytes('{"stream":"WSQ", "seq":7}')), 7);
  for (const odd of [
    '',
    '{"stream":"WSQ"}',
    '{"seq":}',
    '{"seq":12x}',
    '{"seq":1234567890123456}',
    '{"error":{"code":503},"seq":1}',
  ])
    t.equal(plainPubAckSeq(bytes(odd)), undefined, `not plain: ${odd}`);
  // A view into a larger buffer reads only its own bytes.
  const big = bytes('xx{"stream":"WSQ","seq":99}yy');
  t.equal(plainPubAckSeq(big.subarray(2, big.length - 2)), 99);

  t.equal(readPubAck(reply('{"stream":"WSQ","seq":5}')), 5);
  t.same(readPubAck(reply('', true)), { text: '503 No Responders' });
  t.same(readPubAck(reply('not json')), { text: 'unreadable PubAck' });
  t.same(readPubAck(reply('{"stream":"WSQ"}')), { text: 'PubAck without seq' });
  t.same(readPubAck(reply('{"error":{"code":503,"err_code":10008,"description":"stream offline"}}')), {
    text: 'JetStream error 10008 stream offline',
  });
  const refused = readPubAck(
    reply('{"error":{"code":400,"err_code":10054,"description":"maximum messages exceeded"}}'),
  );
  t.equal(typeof refused === 'object' && refused.refusal?.code, 'INTERNAL', 'a 4xx refusal is final');
  t.end();
});

t.test('publish headers: NATS header block with the msg id and the accept time', (t) => {
  const h = publishHeaders('wsq:abc:1z', 1_700_000_000_123);
  t.equal(
    Buffer.from((h as unknown as { encode(): Uint8Array }).encode()).toString('latin1'),
    'NATS/1.0\r\nNats-Msg-Id: wsq:abc:1z\r\nWsq-Ts: 1700000000123\r\n\r\n',
  );
  t.end();
});
