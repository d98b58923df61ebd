import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { encodeLegacy, encodeMsg } from '@wsq/core';
import type { Teardown } from '@wsq/core/testing';
import { runCli } from '../src/cli.js';
import { LineReader, startStubs } from './stubs.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
// A cwd without certs/, so the default --ca is absent and WSQ_* settings of the caller don't leak in.
const CWD = mkdtempSync(join(tmpdir(), 'wsq-clientdemo-'));
t.teardown(() => rmSync(CWD, { recursive: true, force: true }));
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSQ_') && k !== 'NO_COLOR'));

function run(t: Teardown, args: string[]) {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: CWD, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const lines = new LineReader(child.stdout);
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }));
  return { child, lines, exited };
}

t.test('pub publishes one legacy message and exits 0', async (t) => {
  const s = await startStubs(t);
  const p = run(t, ['pub', 'news', 'hello', 'world', '--publish-url', s.publisher.url, '--ca', s.caPath]);
  t.equal((await s.publisher.frames.next()).text, '{"Topic":"news","Content":"hello world"}');
  t.equal(await p.lines.next(), '>[news] hello world');
  t.equal((await p.exited).code, 0);
  t.equal(await s.publisher.closes.next(), 1000);
});

t.test('pub with v1 waits for the ack and prints the seq', async (t) => {
  const s = await startStubs(t);
  const p = run(t, ['--protocol', 'v1', 'pub', 'news', 'hi', '--publish-url', s.publisher.url, '--ca', s.caPath]);
  t.match(JSON.parse((await s.publisher.frames.next()).text), { op: 'pub', topic: 'news', data: 'hi' });
  t.equal(await p.lines.next(), '>[news] hi (seq 1)');
  t.equal((await p.exited).code, 0);
});

t.test('pub refused by the server exits 1', async (t) => {
  const s = await startStubs(t);
  const p = run(t, ['--protocol', 'v1', 'pub', 'forbidden', 'x', '--publish-url', s.publisher.url, '--ca', s.caPath]);
  const r = await p.exited;
  t.equal(r.code, 1);
  t.match(r.stderr, /FORBIDDEN/);
});

t.test('sub --count 1 prints the message and exits 0', async (t) => {
  const s = await startStubs(t);
  const p = run(t, ['sub', 'news', '--count', '1', '--subscribe-url', s.subscriber.url, '--ca', s.caPath]);
  const sub = await s.subscriber.frames.next();
  t.equal(sub.text, '{"Topic":"news","Content":"sub"}');
  sub.ws.send(encodeLegacy('news', 'first'));
  sub.ws.send(encodeLegacy('news', 'second'));
  t.equal(await p.lines.next(), '<[news] first');
  t.equal((await p.exited).code, 0);
  t.equal(p.lines.size, 0, 'nothing after --count messages');
});

t.test('sub --json prints raw v1 frames; SIGTERM ends it with 0', async (t) => {
  const s = await startStubs(t);
  const p = run(t, [
    'sub',
    'a.*',
    'b',
    '--protocol',
    'v1',
    '--json',
    '--subscribe-url',
    s.subscriber.url,
    '--ca',
    s.caPath,
  ]);
  const first = await s.subscriber.frames.next();
  await s.subscriber.frames.next();
  const frame = encodeMsg('a.x', 3, '{"k":true}', 1764000000000);
  first.ws.send(frame);
  t.equal(await p.lines.next(), frame);
  p.child.kill('SIGTERM');
  t.equal((await p.exited).code, 0);
  t.equal(await s.subscriber.closes.next(), 1000);
});

t.test('a wrong password exits 1 with a clear message', async (t) => {
  const s = await startStubs(t);
  const p = run(t, ['pub', 'news', 'x', '--password', 'nope', '--publish-url', s.publisher.url, '--ca', s.caPath]);
  const r = await p.exited;
  t.equal(r.code, 1);
  t.match(r.stderr, /wrong user or password/);
});

t.test('an untrusted certificate exits 1 with a hint to use --ca', async (t) => {
  const s = await startStubs(t);
  const p = run(t, ['sub', 'news', '--subscribe-url', s.subscriber.url]);
  const r = await p.exited;
  t.equal(r.code, 1);
  t.match(r.stderr, /certificate not trusted.*--ca/);
});

t.test('bad usage exits 2 (in process: runCli never exits)', async (t) => {
  const cases = [
    ['pub', 'news'],
    ['pub', 'a.*', 'x'],
    ['sub'],
    ['sub', 'a..b'],
    ['frobnicate'],
    ['--protocol', 'mqtt'],
    ['--no-such-flag'],
    ['sub', 'news', '--since', '3'],
    ['pub', 'news', 'x', '--ca', join(CWD, 'missing.crt')],
    ['--publish-url', 'https://localhost/publish'],
    ['--protocol', 'v1', 'pub', 'news', 'x', '--id', 'x'.repeat(129)],
  ];
  for (const argv of cases) {
    const io = streams(argv);
    t.equal(await runCli(io), 2, argv.join(' '));
    t.not(io.stderrText(), '', 'says why');
  }
});

t.test('--help and --print-config exit 0 on stdout, the password masked', async (t) => {
  const help = streams(['--help']);
  t.equal(await runCli(help), 0);
  t.match(help.stdoutText(), /^Usage: wsq-clientdemo/);
  const printed = streams(['--print-config', '--password', 'secret']);
  t.equal(await runCli(printed), 0);
  t.notMatch(printed.stdoutText(), /secret/);
  t.match(JSON.parse(printed.stdoutText()), { user: 'hello', protocol: 'legacy' });
});

t.test('a usage error as a child process exits 2', async (t) => {
  const r = await run(t, ['pub', 'news']).exited;
  t.equal(r.code, 2);
});

function streams(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  return {
    argv,
    env: { ...ENV },
    stdin: new PassThrough(),
    stdout,
    stderr,
    stdoutText: () => out,
    stderrText: () => err,
  };
}

t.test('interactive mode (in process) reads commands from stdin', async (t) => {
  const s = await startStubs(t);
  const io = streams(['--publish-url', s.publisher.url, '--subscribe-url', s.subscriber.url, '--ca', s.caPath]);
  const code = runCli(io);
  io.stdin.write('news hi\nexit\n');
  t.equal(await code, 0);
  t.equal((await s.publisher.frames.next()).text, '{"Topic":"news","Content":"hi"}');
  t.match(io.stdoutText(), /^connected as hello to .*\n>\[news\] hi\n$/);
});

t.test('interactive mode exits 1 when it cannot connect', async (t) => {
  const s = await startStubs(t);
  const io = streams([
    '--publish-url',
    s.publisher.url,
    '--subscribe-url',
    s.subscriber.url,
    '--ca',
    s.caPath,
    '--user',
    'nobody',
  ]);
  t.equal(await runCli(io), 1);
  t.match(io.stderrText(), /wrong user or password/);
});

t.test('clientdemo reads WSQ_CLIENT_* only: the services’ WSQ_* variables change nothing', async (t) => {
  const io = streams(['--print-config']);
  io.env = {
    ...ENV,
    WSQ_CA: '/services/ca.crt',
    WSQ_INSECURE: 'true',
    WSQ_MAX_PAYLOAD_BYTES: '200',
    WSQ_USER: 'service-user',
    WSQ_CLIENT_USER: 'alice',
    WSQ_CLIENT_MAX_PAYLOAD_BYTES: '4096',
    WSQ_CLIENT_PROTOCOL: 'v1',
  };
  t.equal(await runCli(io), 0);
  const printed = JSON.parse(io.stdoutText()) as Record<string, unknown>;
  t.match(printed, { user: 'alice', maxPayloadBytes: 4096, protocol: 'v1', ca: 'certs/ca.crt', insecure: false });

  const bad = streams([]);
  bad.env = { ...ENV, WSQ_CLIENT_COUNT: 'many' };
  t.equal(await runCli(bad), 2);
  t.match(bad.stderrText(), /WSQ_CLIENT_COUNT: expected an integer/, 'the error names the variable');

  const help = streams(['--help']);
  t.equal(await runCli(help), 0);
  const text = help.stdoutText().replace(/\s+/g, ' ');
  for (const name of ['WSQ_CLIENT_CA', 'WSQ_CLIENT_INSECURE', 'WSQ_CLIENT_MAX_PAYLOAD_BYTES', 'WSQ_CLIENT_CONFIG']) {
    t.match(text, name, `--help names ${name}`);
  }
  t.notMatch(text, /env WSQ_(?!CLIENT_)/, 'no service variable in --help');
});

t.test('--version prints the wsq version', async (t) => {
  const io = streams(['--version']);
  t.equal(await runCli(io), 0);
  t.match(io.stdoutText(), /^wsq \d+\.\d+\.\d+\S*\n$/);
});
