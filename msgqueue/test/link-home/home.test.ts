/**
 * linkQueueHome, as publisher and subscriber open it, against the real msgqueue: each side's
 * log lines carry one link key, the refused batch and the disabled verification are said.
 */
import { join } from 'node:path';
import t from 'tap';
import { hashPassword, linkQueueHome, writeUsersFile, type LinkHomeConfig, type QueueMessage } from '@wsq/core';
import { keyCount, logSink, testTls } from '@wsq/core/testing';
import { recordStates, restartableQueue, type RestartableQueue } from '../helpers/link-home.js';
import { tempDir } from '../helpers/queue.js';

async function homeConfig(q: RestartableQueue, over: Partial<LinkHomeConfig> = {}): Promise<LinkHomeConfig> {
  const tls = await testTls();
  return {
    queue: q.url,
    queueUser: 'hello',
    queuePassword: 'test',
    ca: tls.caPath,
    insecure: false,
    pingIntervalMs: 25_000,
    reconnectMinMs: 5,
    reconnectMaxMs: 50,
    ...over,
  };
}

/** The log lines that carry a link key, and their messages. */
function linkLines(text: string): { lines: string[]; messages: string[] } {
  const lines = text.split('\n').filter((l) => l.includes('"link":'));
  return { lines, messages: lines.map((l) => String((JSON.parse(l) as { msg: unknown }).msg)) };
}

t.test('producer log lines carry one link key, pushmsg: up, a refused batch, down', async (t) => {
  const usersFile = join(await tempDir(t), 'users.json');
  writeUsersFile(usersFile, {
    version: 1,
    users: { hello: { password: await hashPassword('test'), publish: ['chat.>'], subscribe: ['>'] } },
  });
  const q = await restartableQueue(t, { users: usersFile, demo: false });
  const sink = logSink('publisher');
  const states = recordStates();
  const home = linkQueueHome(await homeConfig(q), sink.log);
  t.equal(home.where, q.url);
  const producer = home.producer({ outboxMessages: 10, outboxBytes: 1 << 20, onState: states.onState });
  t.teardown(() => producer.close());
  await states.when('up');
  await t.rejects(producer.append({ topic: 'news', data: '1', ts: 1 }), { code: 'FORBIDDEN' });
  const down = states.next('down');
  await q.stop();
  await down;
  const { lines, messages } = linkLines(sink.text());
  for (const msg of ['msgqueue link up', 'msgqueue refused an append batch', 'msgqueue link down']) {
    t.ok(messages.includes(msg), `"${msg}" is among the link lines`);
  }
  for (const line of lines) {
    t.equal(keyCount(line, 'link'), 1, line);
    t.equal((JSON.parse(line) as { link: unknown }).link, 'pushmsg');
  }
});

t.test('consumer log lines carry one link key, popmsg: up and down', async (t) => {
  const q = await restartableQueue(t);
  const sink = logSink('subscriber');
  const states = recordStates();
  const consumer = linkQueueHome(await homeConfig(q), sink.log).consumer({
    name: 'subscriber',
    window: 16,
    onState: states.onState,
  });
  t.teardown(() => consumer.close());
  consumer.start((_batch: QueueMessage[]) => undefined);
  await states.when('up');
  const down = states.next('down');
  await q.stop();
  await down;
  const { lines, messages } = linkLines(sink.text());
  t.ok(messages.includes('msgqueue link up') && messages.includes('msgqueue link down'), 'up and down are link lines');
  for (const line of lines) {
    t.equal(keyCount(line, 'link'), 1, line);
    t.equal((JSON.parse(line) as { link: unknown }).link, 'popmsg');
  }
});

t.test('--insecure links without verifying and says so loudly, once for the home and once per link', async (t) => {
  const q = await restartableQueue(t);
  const sink = logSink('subscriber');
  const states = recordStates();
  const home = linkQueueHome(await homeConfig(q, { insecure: true, ca: '/nonexistent/ca.crt' }), sink.log);
  const consumer = home.consumer({ name: 'subscriber', window: 16, onState: states.onState });
  t.teardown(() => consumer.close());
  consumer.start(() => undefined);
  await states.when('up');
  t.match(sink.text(), /--insecure: the msgqueue TLS certificate is NOT verified/);
  t.match(sink.text(), /TLS VERIFICATION OF THE MSGQUEUE IS DISABLED/);
});

t.test('no --queue-user is warned about, and the queue refuses the link', async (t) => {
  const q = await restartableQueue(t);
  const sink = logSink('publisher');
  const states = recordStates();
  const home = linkQueueHome(await homeConfig(q, { queueUser: undefined, queuePassword: undefined }), sink.log);
  t.match(sink.text(), /no --queue-user/);
  const producer = home.producer({ outboxMessages: 10, outboxBytes: 1 << 20, onState: states.onState });
  t.teardown(() => producer.close());
  t.equal(await states.next('down'), 'HTTP 401');
});
