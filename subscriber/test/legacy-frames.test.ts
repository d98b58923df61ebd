/**
 * Legacy frames put a JSON string `data` in as it is instead of parsing and quoting it again:
 * a legacy client decodes the same value as from the re-quoted frame (DESIGN 3.2).
 */
import fc from 'fast-check';
import t from 'tap';
import { dataToContent, encodeLegacy, type QueueMessage } from '@wsq/core';
import { encodeLegacyMsg } from '../src/router.js';

const msg = (topic: string, data: string): QueueMessage => ({ seq: 1, topic, data, ts: 1 });
const requoted = (m: QueueMessage) => encodeLegacy(m.topic, dataToContent(m.data));

t.test('property: a JSON string data decodes to the same Content as when re-quoted', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const m = msg('news', JSON.stringify(s));
      const got = JSON.parse(encodeLegacyMsg(m)) as unknown;
      return (
        JSON.stringify(got) === JSON.stringify(JSON.parse(requoted(m))) && (got as { Content: string }).Content === s
      );
    }),
  );
  t.pass('property held');
});

t.test('escapes as the publisher wrote them are kept; the decoded value is the same', async (t) => {
  for (const data of ['"\\u00e9\\/"', '"tab\\there"', '"\\ud83d\\ude00"', '"quote \\" and \\\\"', '""']) {
    const m = msg('a.b', data);
    const frame = encodeLegacyMsg(m);
    t.equal(frame, `{"Topic":"a.b","Content":${data}}`, `${data} goes in as it is`);
    t.same(JSON.parse(frame), JSON.parse(requoted(m)), `${data} decodes as when re-quoted`);
  }
});

t.test('other JSON values reach legacy clients as their JSON text, byte for byte as before', async (t) => {
  for (const data of ['{"x":1}', '[1,"a"]', '42', 'true', 'null']) {
    const m = msg('news', data);
    t.equal(encodeLegacyMsg(m), requoted(m), data);
  }
});
