/** The HTTP messages API codecs, table-driven: POST bodies and history queries. */
import t from 'tap';
import { ProtocolError } from '../src/protocol/errors.js';
import { decodeHistoryQuery, decodePostBody, ParameterError } from '../src/protocol/http-messages.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    if (err instanceof ParameterError) return `${err.code}:${err.param}`;
    throw err;
  }
  return 'ok';
}

t.test('POST bodies: one message, aliases, batches, ids', async (t) => {
  t.same(decodePostBody('{"topic":"a.b","data":{"x":[1]}}', 10), {
    messages: [{ topic: 'a.b', data: '{"x":[1]}' }],
    batch: false,
  });
  t.same(decodePostBody('{"tag":"a","text":"hi","id":"k"}', 10).messages, [{ topic: 'a', data: '"hi"', id: 'k' }]);
  t.same(decodePostBody('{"topic":"a","data":null}', 10, 'key').messages, [{ topic: 'a', data: 'null', id: 'key' }]);
  t.same(decodePostBody('{"topic":"a","data":1,"id":"k"}', 10, 'k').messages[0]?.id, 'k', 'the same id twice');
  const batch = decodePostBody('[{"topic":"a","data":1},{"topic":"b","data":2,"id":"x"}]', 2);
  t.equal(batch.batch, true);
  t.same(
    batch.messages.map((m) => m.topic),
    ['a', 'b'],
  );
  const bad: [string, string, string?][] = [
    ['not json', 'BAD_FRAME'],
    ['"a string"', 'BAD_FRAME'],
    ['[]', 'BAD_FRAME'],
    ['[1]', 'BAD_FRAME'],
    ['[{"topic":"a","data":1},{"topic":"a","data":1},{"topic":"a","data":1}]', 'BAD_FRAME'],
    ['[{"topic":"a","data":1}]', 'BAD_FRAME', 'key'],
    ['{"data":1}', 'BAD_FRAME'],
    ['{"topic":1,"data":1}', 'BAD_FRAME'],
    ['{"topic":"a"}', 'BAD_FRAME'],
    ['{"topic":"a","data":1,"id":7}', 'BAD_FRAME'],
    [`{"topic":"a","data":1,"id":"${'i'.repeat(129)}"}`, 'BAD_FRAME'],
    ['{"topic":"a","data":1,"id":"k"}', 'BAD_FRAME', 'other'],
    ['{"topic":"a","data":1}', 'BAD_FRAME', ''],
    ['{"topic":"a b","data":1}', 'BAD_TOPIC'],
    ['{"topic":"a.>","data":1}', 'BAD_TOPIC'],
    [`{"topic":"a","data":${'['.repeat(20000)}${']'.repeat(20000)}}`, 'BAD_FRAME'],
  ];
  for (const [body, code, key] of bad)
    t.equal(
      codeOf(() => decodePostBody(body, 2, key)),
      code,
      body.slice(0, 60),
    );
});

t.test('history queries: defaults, values, and the parameter each fault names', async (t) => {
  t.same(decodeHistoryQuery(new URLSearchParams('topic=a.*')), { pattern: 'a.*', since: 0, limit: 100, count: false });
  t.same(
    decodeHistoryQuery(
      new URLSearchParams('topic=a&since=7&limit=1000&count=1&dateStart=2026-01-01&dateEnd=2026-01-01T00:00:01.5Z'),
    ),
    {
      pattern: 'a',
      since: 7,
      limit: 1000,
      count: true,
      dateStart: Date.parse('2026-01-01'),
      dateEnd: Date.parse('2026-01-01T00:00:01.5Z'),
    },
  );
  t.equal(decodeHistoryQuery(new URLSearchParams('topic=a&count=false')).count, false);
  const bad: [string, string][] = [
    ['', 'topic'],
    ['topic=', 'topic'],
    ['topic=a&topic=b', 'topic'],
    ['topic=a&since=1.5', 'since'],
    ['topic=a&since=99999999999999999', 'since'],
    ['topic=a&limit=0', 'limit'],
    ['topic=a&limit=1001', 'limit'],
    ['topic=a&dateStart=1700000000', 'dateStart'],
    ['topic=a&dateEnd=2026-13-45T00:00:00Z', 'dateEnd'],
    ['topic=a&dateStart=2026-02-01&dateEnd=2026-01-01', 'dateEnd'],
    ['topic=a&count=2', 'count'],
    ['topic=a&page=2', 'page'],
  ];
  for (const [query, param] of bad) {
    t.equal(
      codeOf(() => decodeHistoryQuery(new URLSearchParams(query))),
      `BAD_PARAMETER:${param}`,
      query,
    );
  }
});
