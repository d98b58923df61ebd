import t from 'tap';
import { publishChecker, PUBLISH_MEMO_TOPICS } from '../src/links/producer-link.js';

t.test('publish permission is matched once per topic and stays right past the memo size', async (t) => {
  const principal = { name: 'u', publish: ['news.>', 'chat.*'], subscribe: [] };
  const may = publishChecker(principal);
  t.equal(may('news.a.b'), true);
  t.equal(may('chat.x'), true);
  t.equal(may('chat.x.y'), false);
  t.equal(may('other'), false);
  let wrong = 0;
  for (let i = 0; i < PUBLISH_MEMO_TOPICS * 2; i++) {
    if (!may(`news.${i}`) || may(`nope.${i}`)) wrong++;
  }
  t.equal(wrong, 0, 'every answer right while the memo fills and starts over');
  t.equal(may('chat.x.y'), false, 'a denied topic stays denied after the memo started over');
});
