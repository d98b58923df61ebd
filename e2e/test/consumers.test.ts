/**
 * The consumer pile-up, with real processes: subscribers restarted under new names leave
 * their durable consumers behind until --max-consumers refuses the next one; the old
 * consumer expires after --consumer-ttl-ms and the new subscriber attaches on its own.
 */
import { httpsRequest } from '@wsq/core/testing';
import t from 'tap';
import { createTrio } from './harness.js';

// The old consumer can only expire once its subscriber stopped, which the test does after
// the renamed one was refused: no race on process start times. The msgqueue checks every
// tenth of the TTL; the test waits on log lines.
const TTL_MS = 2000;

t.test('a subscriber refused at --max-consumers attaches once the old consumer expired', async (t) => {
  const trio = await createTrio(t, {
    msgqueue: ['--max-consumers', '1', '--consumer-ttl-ms', String(TTL_MS)],
  });
  const attached = (name: string) => trio.msgqueue.waitLog((l) => l.msg === 'consumer attached' && l.consumer === name);
  await attached('e2e-subscriber');
  const first = trio.subscriber;

  // A second instance under a new name (as a restarted pod would be), on a port of its own.
  const renamed = await trio.start('subscriber', ['--name', 'pod-2', '--port', '0', '--reconnect-max-ms', '200']);
  const refused = await renamed.waitLog(
    (l) => l.msg === 'msgqueue link down' && String(l.detail).includes('LIMIT_EXCEEDED'),
  );
  t.ok(refused, 'the new name is refused while the old consumer holds the only slot');

  t.equal((await first.terminate()).code, 0, 'the old subscriber stops and leaves its consumer behind');
  const expired = await trio.msgqueue.waitLog((l) => l.msg === 'consumer expired');
  t.match(expired, { consumer: 'e2e-subscriber', reason: 'expired', ttlMs: TTL_MS });
  await attached('pod-2');
  t.pass('the new subscriber attached on its own');
  const metrics = await httpsRequest(`https://localhost:${trio.msgqueue.port}/metrics`, { ca: trio.tls.ca });
  t.match(metrics.body, /^wsq_queue_consumers_deleted_total\{reason="expired",wsq_service="msgqueue"\} 1$/m);
});
