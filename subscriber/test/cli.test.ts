/** The wsq-subscriber command line and configuration checks. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ConfigError, DEMO_PASSWORD, DEMO_USER, loadConfig, resolveValues, type ConfigValues } from '@wsq/core';
import { OPTIONS, checkSubscriberValues, toSubscriberConfig } from '../src/index.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function values(over: Record<string, unknown> = {}): ConfigValues {
  return resolveValues(OPTIONS, over, {}, {}) as ConfigValues;
}

t.test('the command line: --help, bad values, a missing certificate', async (t) => {
  // Node start-up dominates: the four processes run side by side.
  const [help, bad, cross, noCert] = await Promise.all([
    run(['--help']),
    run(['--consumer-window', 'many']),
    run(['--queue', 'ws://localhost:8080']),
    run(['--cert', '/nonexistent', '--port', '0']),
  ]);
  t.equal(help.code, 0, '--help exits 0');
  t.match(help.stdout, /--max-subscriptions-per-connection/);
  t.match(help.stdout, /--max-replay-buffer-messages[^\n]*default: 10000 messages/);
  t.match(help.stdout, /--port[^\n]*default: 8082/);
  t.equal(bad.code, 2, 'a bad value exits 2');
  t.match(bad.stderr, /--consumer-window/);
  t.equal(cross.code, 2, 'a cross-field error exits 2');
  t.match(cross.stderr, /queue/);
  t.equal(noCert.code, 2, 'refuses to start without a certificate');
  t.match(noCert.stderr, /cert/);
});

t.test('defaults and the demo link credentials', async (t) => {
  const c = toSubscriberConfig(values());
  t.match(c, {
    port: 8082,
    name: 'subscriber',
    consumerWindow: 4096,
    maxSubscriptionsPerConnection: 128,
    replayBatchMessages: 1000,
    maxReplayBufferMessages: 10000,
  });
  t.equal(c.queueUser, undefined);
  t.ok(Object.isFrozen(c));
  const demo = toSubscriberConfig(values({ demo: true }));
  t.same([demo.queueUser, demo.queuePassword], [DEMO_USER, DEMO_PASSWORD]);
  const own = toSubscriberConfig(values({ demo: true, queueUser: 'svc', queuePassword: 'secret' }));
  t.same([own.queueUser, own.queuePassword], ['svc', 'secret']);
});

t.test('cross-field checks throw ConfigError naming the field', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ reconnectMinMs: 500, reconnectMaxMs: 100 }, 'reconnectMinMs'],
    [{ name: 'x'.repeat(200) }, 'name'],
    [{ name: '' }, 'name'],
    [{ queue: 'not a url' }, 'queue'],
    [{ queue: 'ws://localhost:8080' }, 'queue'],
    [{ queue: 'wss://u:p@localhost:8080' }, 'queue'],
    [{ queue: 'wss://localhost:8080/some/path?x=1' }, 'queue'],
    [{ queue: 'wss://localhost:8080/some/path#frag' }, 'queue'],
    [{ queue: 'wss://localhost:8080/popmsg/' }, 'queue'],
    [{ queueUser: 'svc' }, 'queuePassword'],
    [{ queuePassword: 'secret' }, 'queueUser'],
  ];
  for (const [over, field] of cases) {
    t.throws(() => toSubscriberConfig(values(over)), { code: 'BAD_CONFIG', field }, JSON.stringify(over));
  }
  t.throws(() => values({ maxConcurrentReplays: 1000 }), ConfigError);
  const loaded = loadConfig(OPTIONS, {
    service: 'subscriber',
    description: '',
    argv: ['--reconnect-min-ms', '500', '--reconnect-max-ms', '100'],
    env: {},
    finish: checkSubscriberValues,
  });
  t.match(loaded, { kind: 'exit', code: 2, output: /--reconnect-min-ms/ });
});
