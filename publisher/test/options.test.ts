import t from 'tap';
import { DEMO_PASSWORD, DEMO_USER, flagName, loadConfig } from '@wsq/core';
import { OPTIONS, finishOptions, publisherConfig, toPublisherConfig } from '../src/options.js';

function load(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return loadConfig(OPTIONS, { service: 'publisher', description: 'test', argv, env, finish: finishOptions });
}

t.test('defaults', async (t) => {
  const c = publisherConfig();
  t.equal(c.port, 8081);
  t.equal(c.queue, 'wss://localhost:8080');
  t.equal(c.outboxMessages, 10000);
  t.equal(c.outboxBytes, 8 * 1024 * 1024);
  t.equal(c.publishRatePerSec, 1000);
  t.equal(c.publishBurst, 2000);
  t.equal(c.drainTimeoutMs, 5000);
  t.equal(c.queueUser, undefined);
  t.ok(Object.isFrozen(c));
});

t.test('--demo without link credentials links as the demo user', async (t) => {
  const r = load(['--demo']);
  if (r.kind !== 'run') throw new Error('expected run');
  const c = toPublisherConfig(r.config);
  t.equal(c.queueUser, DEMO_USER);
  t.equal(c.queuePassword, DEMO_PASSWORD);
});

t.test('explicit link credentials win over --demo', async (t) => {
  const r = load(['--demo', '--queue-user', 'pub'], { WSQ_QUEUE_PASSWORD: 's3cret' });
  if (r.kind !== 'run') throw new Error('expected run');
  t.equal(r.config.queueUser, 'pub');
  t.equal(r.config.queuePassword, 's3cret');
});

t.test('cross-field and per-field errors name the field', async (t) => {
  const cases: [string[], string][] = [
    [['--queue-user', 'pub'], 'queuePassword'],
    [['--queue-password', 'x'], 'queueUser'],
    [['--reconnect-min-ms', '500', '--reconnect-max-ms', '100'], 'reconnectMaxMs'],
    [['--queue', 'ws://localhost:8080'], 'queue'],
    [['--queue', 'not a url'], 'queue'],
    [['--queue', 'wss://localhost:8080/some/path?x=1'], 'queue'],
    [['--queue', 'wss://localhost:8080/?'], 'queue'],
    [['--queue', 'wss://localhost:8080#top'], 'queue'],
    [['--queue', 'wss://localhost:8080/pushmsg'], 'queue'],
    [['--publish-rate-per-sec', '0'], 'publishRatePerSec'],
    [['--publish-burst', 'lots'], 'publishBurst'],
    [['--outbox-messages', '0'], 'outboxMessages'],
  ];
  for (const [argv, field] of cases) {
    const r = load(argv);
    t.equal(r.kind, 'exit', argv.join(' '));
    if (r.kind === 'exit') {
      t.equal(r.code, 2);
      t.match(r.output, new RegExp(`invalid configuration: ${flagName(field)}:`), argv.join(' '));
    }
  }
  t.throws(() => publisherConfig({ queueUser: 'pub' }), { code: 'BAD_CONFIG', field: 'queuePassword' });
});

t.test('a --queue with a path is accepted: the path is a prefix for /pushmsg', async (t) => {
  const r = load(['--queue', 'wss://gw.example:8443/some/path']);
  if (r.kind !== 'run') throw new Error('expected run');
  t.equal(toPublisherConfig(r.config).queue, 'wss://gw.example:8443/some/path');
});

t.test('--help lists the publisher options', async (t) => {
  const r = load(['--help']);
  t.equal(r.kind, 'exit');
  if (r.kind === 'exit') {
    t.equal(r.code, 0);
    for (const flag of [
      '--outbox-messages',
      '--outbox-bytes',
      '--queue-linger-ms',
      '--publish-rate-per-sec',
      '--publish-burst',
      '--queue-user',
      '--insecure',
    ]) {
      t.match(r.output, flag);
    }
  }
});
