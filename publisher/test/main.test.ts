/** The real entry point in a child process: exit codes, --help, and a clean SIGTERM. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { httpsRequest, startLegacyMsgqueue, testTls } from '@wsq/core/testing';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  // Only what node needs: no WSQ_* from the developer's shell leaks into the child.
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, exited, stdout: () => stdout };
}

t.test('refuses to start without a certificate: exit 2 naming cert', async (t) => {
  const { code, stderr } = await run(['--cert', '/nonexistent', '--port', '0']).exited;
  t.equal(code, 2);
  t.match(stderr, /\bcert\b/);
});

t.test('--help exits 0 and lists the options', async (t) => {
  const { code, stdout } = await run(['--help']).exited;
  t.equal(code, 0);
  t.match(stdout, '--publish-rate-per-sec');
  t.match(stdout, '--queue-password');
});

t.test('a bad value exits 2 naming the flag or the variable', async (t) => {
  const { code, stderr } = await run(['--publish-burst', 'lots']).exited;
  t.equal(code, 2);
  t.match(stderr, /--publish-burst/);
  const env = await run([], { WSQ_OUTBOX_MESSAGES: '-1' }).exited;
  t.equal(env.code, 2);
  t.match(env.stderr, /WSQ_OUTBOX_MESSAGES/);
});

t.test('serves, links to the queue, and stops cleanly on SIGTERM', async (t) => {
  const tls = await testTls();
  const goQueue = await startLegacyMsgqueue(t); // a ws-go msgqueue: the publisher links to it as to any
  const proc = run([
    '--port',
    '0',
    '--cert',
    tls.certPath,
    '--key',
    tls.keyPath,
    '--ca',
    tls.caPath,
    '--demo',
    '--queue',
    goQueue.url,
    '--log-level',
    'info',
  ]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  // Log lines are the child's events (pino writes them asynchronously); a child that dies fails the test.
  const died = proc.exited.then((r) => Promise.reject(new Error(`exited with ${r.code}: ${r.stderr}`)));
  const waitOutput = async (re: RegExp): Promise<RegExpExecArray> => {
    for (;;) {
      const m = re.exec(proc.stdout());
      if (m) return m;
      await Promise.race([once(proc.child.stdout!, 'data'), died]);
    }
  };
  const port = Number((await waitOutput(/"port":(\d+)[^\n]*listening/))[1]);
  await waitOutput(/linked to the msgqueue/);
  const ready = await httpsRequest(`https://localhost:${port}/readyz`, { ca: tls.ca });
  t.equal(ready.status, 200);
  proc.child.kill('SIGTERM');
  const { code, stdout } = await proc.exited;
  t.equal(code, 0);
  t.match(stdout, /--demo/, 'the demo user is announced');
  t.notMatch(stdout, /"test"|dGVzdA/, 'the demo password is never logged');
});
