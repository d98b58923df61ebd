/** wsq-server's options are the union of the services' (same names, same defaults), ports apart. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LINK_OPTIONS, resolveValues, type ConfigValues, type OptionSpec } from '@wsq/core';
import { OPTIONS as MSGQUEUE } from '@wsq/msgqueue';
import { OPTIONS as PUBLISHER } from '@wsq/publisher';
import { OPTIONS as SUBSCRIBER } from '@wsq/subscriber';
import t from 'tap';
import { OPTIONS, checkServerValues, toServerConfig, unionOptions } from '../src/options.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/wsq-server.js', import.meta.url));

t.test('every option of the three services, with the same default; ports and link options apart', async (t) => {
  const byKey = new Map(OPTIONS.map((o) => [o.key, o]));
  t.equal(byKey.size, OPTIONS.length, 'each key once');
  const link = new Set(LINK_OPTIONS.map((o) => o.key));
  for (const spec of [...MSGQUEUE, ...PUBLISHER, ...SUBSCRIBER]) {
    if (spec.key === 'port' || link.has(spec.key)) {
      t.notOk(byKey.has(spec.key), `${spec.key} does not apply`);
      continue;
    }
    t.same(byKey.get(spec.key)?.default, spec.default, `${spec.key}`);
  }
  t.same(
    ['queuePort', 'publishPort', 'subscribePort'].map((k) => byKey.get(k)?.default),
    [8080, 8081, 8082],
  );
  t.equal(byKey.get('dataDir')?.default, 'data/msgqueue', "msgqueue's data dir");
});

t.test('a key two services define differently is a programming error', async (t) => {
  const a: OptionSpec = { key: 'x', type: 'int', default: 1, help: '' };
  t.throws(() => unionOptions([[a], [{ ...a, default: 2 }]]), /option x differs/);
  t.same(
    unionOptions([[a], [a]]).filter((o) => o.key === 'x'),
    [a],
  );
});

t.test('the three configurations get their own port and the shared values', async (t) => {
  const values = resolveValues(
    OPTIONS,
    { queuePort: 1, publishPort: 2, subscribePort: 3, name: 'edge', maxPayloadBytes: 4096 },
    {},
    {},
  );
  checkServerValues(values);
  const config = toServerConfig(values as ConfigValues);
  t.equal(config.msgqueue.limits.port, 1);
  t.equal(config.publisher.port, 2);
  t.equal(config.subscriber.port, 3);
  t.equal(config.subscriber.name, 'edge');
  t.equal(config.publisher.maxPayloadBytes, 4096);
  t.equal(config.msgqueue.limits.maxPayloadBytes, 4096);
  const err = (() => {
    try {
      checkServerValues({ ...values, name: '' });
    } catch (e) {
      return e as { field?: string };
    }
    return undefined;
  })();
  t.equal(err?.field, 'name', 'the subscriber checks apply');
});

t.test('the command: --help names the three ports; invalid configuration exits 2 naming the field', async (t) => {
  const help = await run(process.execPath, [BIN, '--help']);
  for (const flag of [
    '--queue-port',
    '--publish-port',
    '--subscribe-port',
    '--data-dir',
    '--outbox-messages',
    '--name',
  ])
    t.match(help.stdout, flag);
  t.notMatch(help.stdout, /--queue-user|--queue </);
  const bad = await run(process.execPath, [BIN, '--publish-port', 'x']).catch(
    (err: { code: number; stderr: string }) => err,
  );
  t.equal((bad as { code: number }).code, 2);
  t.match((bad as { stderr: string }).stderr, '--publish-port');
});
