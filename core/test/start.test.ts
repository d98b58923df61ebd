import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { supervise, type ChildSpec } from '../src/cli/start-supervisor.js';
import { httpsRequest, type Teardown } from './helpers/index.js';

const START = fileURLToPath(new URL('../../bin/wsq-start.js', import.meta.url));
const DIR = mkdtempSync(join(tmpdir(), 'wsq-start-'));
t.teardown(() => rmSync(DIR, { recursive: true, force: true }));
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSQ_')));

/** A stand-in service: logs like runService, and stops on SIGTERM unless told to misbehave. */
const FAKE = join(DIR, 'fake-service.mjs');
writeFileSync(
  FAKE,
  `const [name, mode] = process.argv.slice(2);
const log = (msg, extra = {}) => console.log(JSON.stringify({ level: 'info', time: new Date().toISOString(), pid: process.pid, hostname: 'h', service: name, msg, ...extra }));
process.on('SIGTERM', () => {
  if (mode === 'hang') return;
  log('stopped');
  process.exit(0);
});
setInterval(() => {}, 60000);
console.log('plain text line');
console.error('to stderr');
console.log('{not json');
log(name + ' listening on https://127.0.0.1:1', { port: 1 });
if (mode === 'die') process.exit(3);
`,
);

function fake(name: string, mode = ''): ChildSpec {
  return { name, command: process.execPath, args: [FAKE, name, mode], color: 32 };
}

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.setEncoding('utf8').on('data', (s: string) => (text += s));
  return () => text;
}

function run(children: ChildSpec[], stopTimeoutMs = 10000) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const listening = new Set<string>();
  let allListening!: () => void;
  const ready = new Promise<void>((resolve) => (allListening = resolve));
  const sup = supervise({
    children,
    stdout,
    stderr,
    color: false,
    stopTimeoutMs,
    onListening: (name) => {
      listening.add(name);
      if (listening.size === children.length) allListening();
    },
  });
  return { sup, out, err, ready };
}

t.test('supervisor: prefixed, pretty-printed lines; stop() ends all with 0', async (t) => {
  const r = run([fake('a'), fake('bbb')]);
  await r.ready;
  r.sup.stop();
  t.equal(await r.sup.done, 0);
  const out = r.out();
  t.match(out, /^\[a\] {3}\[\d\d:\d\d:\d\d\.\d{3}\] INFO: a listening on https:\/\/127\.0\.0\.1:1 \{"port":1\}$/m);
  t.match(out, /^\[bbb\] plain text line$/m, 'not JSON: as is');
  t.match(out, /^\[a\] {3}\{not json$/m, 'broken JSON: as is');
  t.match(out, /^\[bbb\] \[[\d:.]+\] INFO: stopped$/m, 'output after SIGTERM is printed before done');
  t.notMatch(out, /"pid"|hostname/);
  t.match(r.err(), /^\[a\] {3}to stderr$/m);
});

t.test('supervisor: one child dying stops the others, status 1', async (t) => {
  const r = run([fake('a'), fake('b', 'die'), fake('c')]);
  t.equal(await r.sup.done, 1);
  t.match(r.err(), /^\[start\] b exited unexpectedly \(status 3\); stopping the others$/m);
});

t.test('supervisor: a child ignoring SIGTERM is killed after the deadline, status 1', async (t) => {
  const r = run([fake('a'), fake('h', 'hang')], 200);
  await r.ready;
  r.sup.stop();
  t.equal(await r.sup.done, 1);
  t.match(r.err(), /h did not stop within 200 ms: killing it/);
  t.match(r.out(), /^\[a\] \[[\d:.]+\] INFO: stopped$/m, 'the well-behaved one stopped cleanly');
});

t.test('supervisor: a command that cannot start counts as a death', async (t) => {
  const r = run([fake('a'), { name: 'x', command: join(DIR, 'no-such-program'), args: [] }]);
  t.equal(await r.sup.done, 1);
  t.match(r.err(), /cannot start x/);
});

/** Three distinct free ports: all held open at once, then released. */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  for (let i = 0; i < n; i++) {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    servers.push(srv);
  }
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function lineQueue(stream: Readable) {
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: stream }).on('line', (l) => {
    lines.push(l);
    wake?.();
  });
  return {
    lines,
    /** Waits for a line matching `re`; rejects if `ended` settles first. */
    async waitFor(re: RegExp, ended: Promise<unknown>): Promise<string> {
      let checked = 0;
      let over = false;
      void ended.then(() => {
        over = true;
        wake?.();
      });
      for (;;) {
        for (; checked < lines.length; checked++) if (re.test(lines[checked]!)) return lines[checked]!;
        if (over) throw new Error(`exited before a line matching ${re}:\n${lines.join('\n')}`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

function startProcess(t: Teardown, args: string[]) {
  const child = spawn(process.execPath, [START, ...args], { cwd: DIR, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = lineQueue(child.stdout);
  const err = lineQueue(child.stderr);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM'); // never SIGKILL: its services would outlive it
    await exited;
  });
  return { child, out, err, exited };
}

t.test('npm start: certs generated, three services on the given ports, SIGTERM exits 0', async (t) => {
  const [mq, pub, sub] = await freePorts(3);
  const p = startProcess(t, [
    '--msgqueue-port',
    String(mq),
    '--publisher-port',
    String(pub),
    '--subscriber-port',
    String(sub),
  ]);
  await p.out.waitFor(/wsq is running\. DEMO ONLY/, p.exited);
  for (const name of ['msgqueue', 'publisher', 'subscriber']) {
    t.ok(
      p.out.lines.some((l) => new RegExp(`^\\[${name}\\] +.*listening on https://`).test(l)),
      `${name} says it listens`,
    );
  }
  t.ok(
    p.err.lines.some((l) => /generated a local CA/.test(l)),
    'says it generated certs/',
  );
  t.ok(
    p.out.lines.some((l) =>
      l.includes(`npx wscat -c wss://localhost:${sub}/subscribe --auth hello:test --ca certs/ca.crt`),
    ),
  );
  const ca = readFileSync(join(DIR, 'certs', 'ca.crt'));
  for (const port of [mq, pub, sub]) {
    t.equal((await httpsRequest(`https://localhost:${port}/healthz`, { ca })).status, 200, `healthz on ${port}`);
  }
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0);
  t.ok(p.err.lines.some((l) => /all stopped/.test(l)));
});

t.test('npm start: a service that cannot start stops the others, exit 1', async (t) => {
  const [mq, pub, sub] = await freePorts(3);
  const squatter = createServer((socket) => socket.destroy()); // publisher and subscriber will knock
  await new Promise<void>((resolve) => squatter.listen(mq, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => squatter.close(resolve)));
  const p = startProcess(t, [
    '--msgqueue-port',
    String(mq),
    '--publisher-port',
    String(pub),
    '--subscriber-port',
    String(sub),
  ]);
  t.equal(await p.exited, 1);
  t.ok(
    p.err.lines.some((l) => /msgqueue exited unexpectedly/.test(l)),
    p.err.lines.join('\n'),
  );
});

t.test('npm start: bad options exit 2', async (t) => {
  t.equal(await startProcess(t, ['--base-port', 'nope']).exited, 2);
  t.equal(await startProcess(t, ['--base-port', '9000', '--publisher-port', '9000']).exited, 2);
});
