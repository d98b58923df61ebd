/**
 * /readyz follows the msgqueue link (DESIGN section 1): kill -9 the msgqueue and publisher and
 * subscriber turn 503 while /healthz stays 200; restart it on the same port and both are
 * ready again within the reconnect delay. Each step waits for the log line that announces the
 * link change, then reads the endpoints and the gauges once.
 */
import t from 'tap';
import { createTrio, type ServiceName } from './harness.js';
import { nextLog, scrape, status } from './prom.js';

const LINKED: ServiceName[] = ['publisher', 'subscriber'];
const LINK_UP_GAUGE = { publisher: 'wsq_publisher_queue_link_up', subscriber: 'wsq_subscriber_queue_link_up' };

t.test('readiness follows the msgqueue link down and back up', async (t) => {
  const reconnect = ['--reconnect-min-ms', '20', '--reconnect-max-ms', '200'];
  const trio = await createTrio(t, { publisher: reconnect, subscriber: reconnect });

  async function expectState(ready: boolean, why: string): Promise<void> {
    for (const name of LINKED) {
      const proc = trio[name];
      t.equal(await status(proc, trio.tls, '/readyz'), ready ? 200 : 503, `${name} /readyz ${why}`);
      t.equal(await status(proc, trio.tls, '/healthz'), 200, `${name} /healthz ${why}`);
      const m = await scrape(proc, trio.tls);
      t.equal(m.sum('wsq_ready'), ready ? 1 : 0, `${name} wsq_ready ${why}`);
      t.equal(m.sum(LINK_UP_GAUGE[name as 'publisher']), ready ? 1 : 0, `${name} link gauge ${why}`);
    }
  }

  t.equal(await status(trio.msgqueue, trio.tls, '/readyz'), 200, 'msgqueue ready once listening');
  await Promise.all(LINKED.map((n) => trio[n].waitLog((l) => l.msg === 'msgqueue link up')));
  await expectState(true, 'while linked');

  let downs = LINKED.map((n) => nextLog(trio[n], (l) => l.msg === 'msgqueue link down'));
  await trio.msgqueue.kill9();
  await Promise.all(downs);
  await expectState(false, 'with the msgqueue killed');

  const ups = LINKED.map((n) => nextLog(trio[n], (l) => l.msg === 'msgqueue link up'));
  await trio.start('msgqueue');
  t.equal(await status(trio.msgqueue, trio.tls, '/readyz'), 200, 'restarted msgqueue ready');
  await Promise.all(ups);
  await expectState(true, 'once the msgqueue is back');

  // A graceful stop of the msgqueue is seen the same way.
  downs = LINKED.map((n) => nextLog(trio[n], (l) => l.msg === 'msgqueue link down'));
  t.equal((await trio.msgqueue.terminate()).code, 0);
  await Promise.all(downs);
  await expectState(false, 'with the msgqueue stopped');
});
