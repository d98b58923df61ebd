import t from 'tap';
import { connectionId } from '../src/observe/log.js';
import { logSink } from './helpers/index.js';

t.test('a line is one JSON object with level, time, service and msg; children add conn', async (t) => {
  const { log, lines } = logSink('publisher', 'info');
  const conn = connectionId();
  log.info('listening');
  log.child({ conn }).warn({ reason: 'slow_consumer' }, 'closing slow client');
  log.debug('not at info');
  const [first, second, ...rest] = lines();
  t.same(rest, []);
  t.match(first, { level: 'info', service: 'publisher', msg: 'listening' });
  t.equal(new Date(first!.time as string).toISOString(), first!.time, 'ISO 8601 UTC time');
  t.match(second, { level: 'warn', service: 'publisher', conn, reason: 'slow_consumer' });
  t.not(connectionId(), conn, 'each connection gets its own id');
});

t.test('credentials are redacted wherever they slip in', async (t) => {
  const { log, text } = logSink();
  log.info({ password: 'p1-secret', user: { password: 'p2-secret' } }, 'a');
  log.info({ queuePassword: 'p3-secret', config: { queuePassword: 'p4-secret' } }, 'b');
  log.info({ authorization: 'Basic p5-secret', headers: { authorization: 'Basic p6-secret' } }, 'c');
  log.info({ req: { headers: { authorization: 'Basic p7-secret' } } }, 'd');
  log.info({ ticket: 'p8-secret', query: { ticket: 'p9-secret' } }, 'e');
  t.notMatch(text(), /secret/);
  t.equal(text().split('[redacted]').length - 1, 9);
});
