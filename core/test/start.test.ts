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
import { busyPortHint, loadPrettyFormat } from '../src/cli/start.js';
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
  `import { existsSync } from 'node:fs';
const [name, mode] = process.argv.slice(2);
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
const listening = () => log(name + ' listening on https://127.0.0.1:1', { port: 1 });
if (mode.startsWith('gate=')) {
  // Listens only once the test creates the gate file.
  const gate = mode.slice(5);
  const check = setInterval(() => { if (existsSync(gate)) { clearInterval(check); listening(); } }, 5);
} else listening();
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

const FORMAT = await loadPrettyFormat(false);

function run(children: ChildSpec[], stopTimeoutMs = 10000) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const listening = new Set<string>();
  const spawned: string[] = [];
  let allListening!: () => void;
  const ready = new Promise<void>((resolve) => (allListening = resolve));
  const sup = supervise({
    children,
    stdout,
    stderr,
    color: false,
    stopTimeoutMs,
    format: FORMAT,
    onSpawn: (name) => spawned.push(name),
    onListening: (name) => {
      listening.add(name);
      if (listening.size === children.length) allListening();
    },
  });
  return { sup, out, err, ready, spawned, stdout };
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

t.test('supervisor: without a formatter JSON lines are printed as they are', async (t) => {
  const stdout = new PassThrough();
  const out = collect(stdout);
  const sup = supervise({
    children: [fake('a')],
    stdout,
    stderr: new PassThrough(),
    color: false,
    stopTimeoutMs: 5000,
  });
  await new Promise<void>((resolve) => stdout.on('data', () => out().includes('listening') && resolve()));
  sup.stop();
  t.equal(await sup.done, 0);
  t.match(out(), /^\[a\] \{"level":"info",.*"msg":"a listening on/m);
});

t.test('supervisor: a child with `after` starts once that one listens', async (t) => {
  const gate = join(DIR, 'gate-after');
  const r = run([fake('q', `gate=${gate}`), { ...fake('f'), after: 'q' }, { ...fake('g'), after: 'q' }]);
  // q runs and prints, but has not said it listens: the others must not exist yet.
  await new Promise<void>((resolve) => {
    const check = () => r.out().includes('[q] plain text line') && resolve();
    r.stdout.on('data', check);
    check();
  });
  t.same(r.spawned, ['q'], 'only q is started before it listens');
  writeFileSync(gate, '');
  await r.ready;
  t.same(r.spawned, ['q', 'f', 'g']);
  const out = r.out();
  t.ok(out.indexOf('q listening') < out.indexOf('[f] plain text line'), 'f printed after q listened');
  r.sup.stop();
  t.equal(await r.sup.done, 0);
});

t.test('supervisor: stopped before `after` is met, the waiting child never starts', async (t) => {
  const r = run([fake('q', `gate=${join(DIR, 'never')}`), { ...fake('f'), after: 'q' }]);
  await new Promise<void>((resolve) => {
    const check = () => r.out().includes('[q] plain text line') && resolve();
    r.stdout.on('data', check);
    check();
  });
  r.sup.stop();
  t.equal(await r.sup.done, 0);
  t.same(r.spawned, ['q']);
});

t.test('supervisor: a hint is printed once per child', async (t) => {
  const stderr = new PassThrough();
  const err = collect(stderr);
  const sup = supervise({
    children: [fake('a', 'die')],
    stdout: new PassThrough(),
    stderr,
    color: false,
    stopTimeoutMs: 5000,
    hint: (name, line) => (line.includes('text') ? `${name} said text` : undefined),
  });
  t.equal(await sup.done, 1);
  t.equal(err().split('a said text').length - 1, 1, err());
});

t.test('busyPortHint: advice for EADDRINUSE only', async (t) => {
  t.equal(busyPortHint('listening', 8080), undefined);
  t.match(busyPortHint('cannot listen: port 8080 ... (EADDRINUSE)', 8080), 'npm start -- --base-port 9080');
  t.match(busyPortHint('EADDRINUSE', 65000), '--base-port 9000');
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
  const all = [...p.out.lines, ...p.err.lines];
  t.same(
    all.filter((l) => /ECONNREFUSED|link down/i.test(l)),
    [],
    'the fronts start after the msgqueue listens: no refused link',
  );
  const first = (name: string) => p.out.lines.findIndex((l) => l.startsWith(`[${name}]`));
  const mqListens = p.out.lines.findIndex((l) => /^\[msgqueue\] +.*listening on https:/.test(l));
  t.ok(mqListens >= 0 && mqListens < first('publisher') && mqListens < first('subscriber'), 'msgqueue first');
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
  t.ok(
    p.err.lines.some((l) => /npm start -- --base-port \d+/.test(l)),
    'a busy port gets the --base-port advice',
  );
  t.ok(
    p.err.lines.some((l) => /in use .*--port/.test(l)),
    'the service itself names --port',
  );
});

t.test('npm start: bad options exit 2', async (t) => {
  t.equal(await startProcess(t, ['--base-port', 'nope']).exited, 2);
  t.equal(await startProcess(t, ['--base-port', '9000', '--publisher-port', '9000']).exited, 2);
});
