/**
 * Configuration as an operator meets it, through the real entry points in child processes:
 * flags > WSQ_* environment > --config JSON > defaults; --print-config with secrets masked;
 * --help listing every option with its default and unit; invalid values exit 2 naming the field.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envName, flagName, type OptionSpec } from '@wsq/core';
import { connectWs, FrameReader, httpsRequest, testTls, upgradeStatus, type Teardown } from '@wsq/core/testing';
import t from 'tap';
import { ROOT, ServiceProcess, type ServiceName } from './harness.js';

const SERVICES: ServiceName[] = ['msgqueue', 'publisher', 'subscriber'];
const MAIN = (name: ServiceName) => join(ROOT, name, 'dist/src/main.js');

/** Only what node needs (and c8's coverage directory): no WSQ_* from the shell leaks in. */
function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE, ...env };
}

function run(name: ServiceName, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN(name), ...args], { cwd: ROOT, env: cleanEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-e2e-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function optionsOf(name: ServiceName): Promise<readonly OptionSpec[]> {
  const mod = (await import(join(ROOT, name, 'dist/src/index.js'))) as { OPTIONS: readonly OptionSpec[] };
  return mod.OPTIONS;
}

t.test('--print-config: flag > env > file > default, the password masked', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'publisher.json');
  writeFileSync(
    file,
    JSON.stringify({
      outboxMessages: 7,
      publishBurst: 5,
      maxPayloadBytes: 1000,
      queueUser: 'from-file',
      queuePassword: 'file-secret-1',
    }),
  );
  const env = { WSQ_OUTBOX_MESSAGES: '8', WSQ_PUBLISH_BURST: '6', WSQ_QUEUE_PASSWORD: 'env-secret-2' };
  const res = await run('publisher', ['--config', file, '--print-config', '--outbox-messages', '9'], env);
  t.equal(res.code, 0, res.stderr);
  const shown = JSON.parse(res.stdout) as Record<string, unknown>;
  t.equal(shown.outboxMessages, 9, 'the flag wins over env and file');
  t.equal(shown.publishBurst, 6, 'env wins over the file');
  t.equal(shown.maxPayloadBytes, 1000, 'the file wins over the default');
  t.equal(shown.queueUser, 'from-file');
  t.equal(shown.publishRatePerSec, 1000, 'the default otherwise');
  t.equal(shown.queuePassword, '********', 'the password is masked');
  t.notMatch(res.stdout, /secret/, 'neither password is shown');
  const specs = await optionsOf('publisher');
  // queueUser and queuePassword come from the file and env above; queueToken has no value.
  const set = specs
    .filter((o) => o.default !== undefined || o.key === 'queueUser' || o.key === 'queuePassword')
    .map((o) => o.key);
  t.same(Object.keys(shown).sort(), set.sort(), 'every option with a value is shown');
});

t.test('a running service honours the precedence', async (t) => {
  const tls = await testTls();
  const dir = tempDir(t);
  const file = join(dir, 'publisher.json');
  writeFileSync(
    file,
    JSON.stringify({
      port: 1,
      maxPayloadBytes: 100_000,
      metricsAuth: true,
      allowedOrigins: ['https://ok.example'],
      queue: 'wss://localhost:1',
    }),
  );
  const env = { WSQ_PORT: '2', WSQ_MAX_PAYLOAD_BYTES: '50000', WSQ_METRICS_AUTH: 'false' };
  const flags = ['--config', file, '--port', '0', '--max-payload-bytes', '2000'];
  const tlsFlags = ['--cert', tls.certPath, '--key', tls.keyPath, '--ca', tls.caPath, '--demo'];
  const child = spawn(process.execPath, [MAIN('publisher'), ...flags, ...tlsFlags], {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new ServiceProcess('publisher', child);
  t.teardown(() => proc.kill9());
  const port = await proc.listening();
  t.ok(port !== 1 && port !== 2, '--port 0 (flag) beat WSQ_PORT and the file');
  const base = `https://localhost:${port}`;
  t.equal((await httpsRequest(`${base}/metrics`, { ca: tls.ca })).status, 200, 'WSQ_METRICS_AUTH=false beat the file');
  const demo = { ca: tls.ca, user: 'hello', password: 'test' };
  const evil = { ...demo, headers: { origin: 'https://evil.example' } };
  t.equal((await upgradeStatus(`wss://localhost:${port}/publish`, evil)).status, 403, 'the file origins apply');
  const ok = { ...demo, headers: { origin: 'https://ok.example' } };
  t.equal((await upgradeStatus(`wss://localhost:${port}/publish`, ok)).status, 101);
  const ws = await connectWs(`wss://localhost:${port}/publish`, ok);
  const reader = new FrameReader(ws);
  ws.send('x'.repeat(3000));
  t.equal((await reader.waitClose()).code, 1009, '--max-payload-bytes 2000 (flag) beat env and file');
});

t.test('--help lists every option with its default and unit', async (t) => {
  const outputs = await Promise.all(SERVICES.map((name) => Promise.all([run(name, ['--help']), optionsOf(name)])));
  for (const [i, name] of SERVICES.entries()) {
    const [res, specs] = outputs[i]!;
    t.equal(res.code, 0);
    const help = res.stdout.replace(/\s+/g, ' ');
    const missing: string[] = [];
    for (const spec of specs) {
      const def = spec.default;
      const shown = Array.isArray(def) ? def.join(',') : def;
      const wanted = [flagName(spec.key), envName(spec.key)];
      if (shown !== undefined && shown !== '') wanted.push(`default: ${shown}${spec.unit ? ' ' + spec.unit : ''}`);
      else if (spec.unit) wanted.push(`unit: ${spec.unit}`);
      for (const w of wanted) if (!help.includes(w)) missing.push(`${spec.key}: ${w}`);
    }
    t.same(missing, [], `${name} --help`);
    t.match(help, '--config');
    t.match(help, '--print-config');
  }
});

t.test('invalid configuration exits 2 naming the field', async (t) => {
  const dir = tempDir(t);
  const unknownKey = join(dir, 'unknown.json');
  writeFileSync(unknownKey, JSON.stringify({ maxPayloadBytes: 1000, noSuchOption: 1 }));
  const notJson = join(dir, 'broken.json');
  writeFileSync(notJson, '{ "port": ');
  // One case per source (core/test/config.test.ts has the full table in process).
  const cases: [ServiceName, string[], Record<string, string>, RegExp][] = [
    ['publisher', ['--max-payload-bytes', 'lots'], {}, /--max-payload-bytes/],
    ['msgqueue', [], { WSQ_FSYNC: 'sometimes' }, /WSQ_FSYNC/],
    ['msgqueue', ['--config', unknownKey], {}, /noSuchOption/],
    ['subscriber', ['--config', notJson], {}, /--config/],
    ['msgqueue', ['--allowed-origins', '*'], {}, /--allowed-origins/],
  ];
  const results = await Promise.all(cases.map(([name, args, env]) => run(name, args, env)));
  results.forEach((res, i) => {
    const [name, args, env, field] = cases[i]!;
    const what = `${name} ${args.join(' ')} ${JSON.stringify(env)}`;
    t.equal(res.code, 2, what);
    t.match(res.stderr, field, `${what} names the field`);
    t.equal(res.stdout, '', `${what} prints nothing on stdout`);
  });
});

t.test('a host the service cannot listen on exits 2 naming --host; a port in use stays 1', async (t) => {
  const tls = await testTls();
  const tlsFlags = ['--cert', tls.certPath, '--key', tls.keyPath, '--ca', tls.caPath, '--demo', '--port', '0'];
  const cases: [ServiceName, string[], Record<string, string>][] = [
    ['msgqueue', ['--host', '999.1.1.1', '--data-dir', join(tempDir(t), 'data')], {}],
    ['publisher', ['--host', '192.0.2.1'], {}],
    ['subscriber', [], { WSQ_HOST: 'no-such-host.invalid' }],
  ];
  const results = await Promise.all(cases.map(([name, args, env]) => run(name, [...args, ...tlsFlags], env)));
  results.forEach((res, i) => {
    const [name, args, env] = cases[i]!;
    const what = `${name} ${args.join(' ')} ${JSON.stringify(env)}`;
    t.equal(res.code, 2, what);
    const where = env.WSQ_HOST === undefined ? '--host' : 'WSQ_HOST';
    t.match(res.stderr, `invalid configuration: ${where}: cannot listen on `, `${what} names ${where}`);
  });

  const child = spawn(process.execPath, [MAIN('publisher'), ...tlsFlags], {
    cwd: ROOT,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new ServiceProcess('publisher', child);
  t.teardown(() => proc.kill9());
  const port = await proc.listening();
  const inUse = await run('publisher', [...tlsFlags, '--port', String(port)]);
  t.equal(inUse.code, 1, 'EADDRINUSE is not a configuration error');
  t.match(inUse.stderr, /cannot listen: .*EADDRINUSE/);
  t.match(inUse.stderr, /choose another with --port/, 'the fix is named');
});
