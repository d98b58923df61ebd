/**
 * Runs the real services as child processes (what `npx wsq-*` runs), on free ports, with the
 * test CA, a temp data dir and a users file, and reads their JSON log lines to learn when
 * they listen and what they do. Tests wait on those lines and on sockets, never on sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { onExit } from 'signal-exit';
import { hashPassword, writeUsersFile } from '@wsq/core';
import { testTls, type Teardown, type TestTls } from '@wsq/core/testing';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export type ServiceName = 'msgqueue' | 'publisher' | 'subscriber';
/** What a child process runs: one of the trio, or wsq-server (all three in one process). */
export type ProgramName = ServiceName | 'server';

export const USERS = {
  // The services link to the msgqueue with their own users.
  publisher: { password: 'pub-link-secret', publish: ['>'], subscribe: [] as string[] },
  subscriber: { password: 'sub-link-secret', publish: [] as string[], subscribe: ['>'] },
  alice: { password: 'alice-secret', publish: ['>'], subscribe: ['>'] },
} as const;

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export class ServiceProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  private readonly watchers = new Set<() => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port = 0;

  constructor(
    readonly name: ProgramName,
    readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        this.lines.push({ msg: line });
      }
      for (const w of [...this.watchers]) w();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      for (const w of [...this.watchers]) w();
    });
    this.exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
    void this.exited.then(() => {
      for (const w of [...this.watchers]) w();
    });
  }

  /** Resolves with the first log line (past or future) that matches; rejects if the process exits first. */
  waitLog(match: (l: LogLine) => boolean): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.lines.find(match);
        if (hit) {
          this.watchers.delete(check);
          resolve(hit);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          this.watchers.delete(check);
          reject(
            new Error(
              `${this.name} exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr.join('\n')}`,
            ),
          );
        }
      };
      this.watchers.add(check);
      check();
    });
  }

  async listening(): Promise<number> {
    const line = await this.waitLog((l) => typeof l.port === 'number' && String(l.msg).includes('listening'));
    this.port = line.port as number;
    return this.port;
  }

  kill9(): Promise<unknown> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/**
 * The services' environment: ours, minus tap's NODE_OPTIONS loaders (they would slow every
 * start); NODE_V8_COVERAGE stays, so c8 still measures the children.
 */
function serviceEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WSQ_LOG_LEVEL: 'debug' };
  delete env.NODE_OPTIONS;
  return env;
}

/** Children still running; killed if this test process dies early (tap timeout, Ctrl-C). */
const running = new Set<ChildProcess>();
onExit(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** The script `npx wsq-NAME` runs (wsq-server's main module only exports its function). */
function scriptOf(name: ProgramName): string {
  return name === 'server' ? join(ROOT, 'server/bin/wsq-server.js') : join(ROOT, name, 'dist/src/main.js');
}

export function spawnService(name: ProgramName, args: string[]): ServiceProcess {
  const child = spawn(process.execPath, [scriptOf(name), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: serviceEnv(),
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new ServiceProcess(name, child);
}

export interface Trio {
  tls: TestTls;
  dir: string;
  usersFile: string;
  msgqueue: ServiceProcess;
  publisher: ServiceProcess;
  subscriber: ServiceProcess;
  publishUrl(): string;
  subscribeUrl(): string;
  /** Starts (or restarts, on the same port) one service. */
  start(name: ServiceName, extra?: string[]): Promise<ServiceProcess>;
}

/** What every topology needs: the test CA, a temp dir (removed at teardown) and a users file with USERS. */
export async function prepareRun(t: Teardown): Promise<{ tls: TestTls; dir: string; usersFile: string }> {
  const tls = await testTls();
  const dir = mkdtempSync(join(tmpdir(), 'wsq-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const usersFile = join(dir, 'users.json');
  const users: Record<string, { password: string; publish: string[]; subscribe: string[] }> = {};
  for (const [name, u] of Object.entries(USERS)) {
    users[name] = { password: await hashPassword(u.password), publish: [...u.publish], subscribe: [...u.subscribe] };
  }
  writeUsersFile(usersFile, { version: 1, users });
  return { tls, dir, usersFile };
}

/** The options every program of a run shares: the test TLS files, the users file, the loopback host. */
export function commonArgs(tls: TestTls, usersFile: string): string[] {
  return [
    '--cert',
    tls.certPath,
    '--key',
    tls.keyPath,
    '--ca',
    tls.caPath,
    '--users',
    usersFile,
    '--host',
    '127.0.0.1',
  ];
}

/**
 * A queue outside the harness (NATS JetStream): publisher and subscriber get `args(name)` in
 * place of the msgqueue link's flags, and no msgqueue is started.
 */
export interface ExternalQueue {
  args(name: 'publisher' | 'subscriber'): string[];
}

export async function createTrio(
  t: Teardown,
  extra: Partial<Record<ServiceName, string[]>> = {},
  queue?: ExternalQueue,
): Promise<Trio> {
  const { tls, dir, usersFile } = await prepareRun(t);
  const common = commonArgs(tls, usersFile);
  const procs: Partial<Record<ServiceName, ServiceProcess>> = {};
  const ports: Partial<Record<ServiceName, number>> = {};

  function argsFor(name: ServiceName): string[] {
    const args = [...common, '--port', String(ports[name] ?? 0), ...(extra[name] ?? [])];
    if (name === 'msgqueue') return [...args, '--data-dir', join(dir, 'data')];
    const name_ = name === 'subscriber' ? ['--name', 'e2e-subscriber'] : [];
    if (queue) {
      // The test's own flags last, so that they win (a second --name, say).
      return [...common, '--port', String(ports[name] ?? 0), ...queue.args(name), ...name_, ...(extra[name] ?? [])];
    }
    const link = [
      '--queue',
      `wss://localhost:${ports.msgqueue}`,
      '--queue-user',
      name,
      '--queue-password',
      USERS[name].password,
    ];
    return [...args, ...link, ...name_];
  }

  const trio: Trio = {
    tls,
    dir,
    usersFile,
    get msgqueue() {
      return procs.msgqueue!;
    },
    get publisher() {
      return procs.publisher!;
    },
    get subscriber() {
      return procs.subscriber!;
    },
    publishUrl: () => `wss://localhost:${ports.publisher}/publish`,
    subscribeUrl: () => `wss://localhost:${ports.subscriber}/subscribe`,
    async start(name, more = []) {
      const proc = spawnService(name, [...argsFor(name), ...more]);
      procs[name] = proc;
      t.teardown(() => proc.kill9());
      ports[name] = await proc.listening();
      return proc;
    },
  };
  if (!queue) await trio.start('msgqueue');
  await Promise.all([trio.start('publisher'), trio.start('subscriber')]);
  return trio;
}
