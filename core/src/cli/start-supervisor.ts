/**
 * Runs a set of child processes as one unit for `npm start`: their output lines are prefixed
 * with the service name and pino's JSON made human-readable (by the caller's formatter); a
 * child that names another in `after` starts once that one logged that it listens; when one
 * dies on its own the others are stopped; stop() sends SIGTERM to all and waits (SIGKILL after
 * a deadline).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildSpec {
  name: string;
  command: string;
  args: readonly string[];
  /** ANSI colour of the name prefix on a terminal. */
  color?: number;
  /** Started only once this child logged that it listens (the fronts wait for the msgqueue). */
  after?: string;
}

/** Turns one parsed JSON log line into text (pino-pretty's, for npm start). */
export type LogFormat = (line: Record<string, unknown>) => string;

export interface SupervisorOptions {
  children: readonly ChildSpec[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Colour the prefixes and the pretty-printed logs. */
  color: boolean;
  /** After SIGTERM, how long a child may take before SIGKILL. */
  stopTimeoutMs: number;
  /** A child logged that it listens (runService's `listening` line with a port). */
  onListening?(name: string, port: number): void;
  /** A child was spawned. */
  onSpawn?(name: string): void;
  /** JSON log lines through this; without it they are printed as they are. */
  format?: LogFormat;
  /** Advice for the operator about one output line (a busy port), printed once per child. */
  hint?(name: string, line: string): string | undefined;
}

export interface Supervisor {
  /** 0 once all children exited after stop() with status 0; 1 if one died on its own or failed to stop. */
  readonly done: Promise<number>;
  stop(): void;
}

interface Running {
  spec: ChildSpec;
  proc: ChildProcess;
  exited: boolean;
}

export function supervise(opts: SupervisorOptions): Supervisor {
  const width = Math.max(...opts.children.map((c) => c.name.length));
  const running: Running[] = [];
  const hinted = new Set<string>();
  let stopping = false;
  let failed = false;
  let killTimer: NodeJS.Timeout | undefined;
  let resolveDone: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  function prefix(spec: ChildSpec): string {
    const tag = `[${spec.name}]`.padEnd(width + 2);
    return opts.color && spec.color !== undefined ? `\x1b[${spec.color}m${tag}\x1b[0m ` : `${tag} `;
  }

  /** The launcher's own lines. */
  function say(text: string): void {
    opts.stderr.write(`${opts.color ? '\x1b[1m[start]\x1b[0m' : '[start]'} ${text}\n`);
  }

  function pipeLines(r: Running, from: NodeJS.ReadableStream, to: NodeJS.WritableStream): void {
    const pre = prefix(r.spec);
    createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => {
      let obj: Record<string, unknown> | undefined;
      if (line.startsWith('{')) {
        try {
          obj = JSON.parse(line) as Record<string, unknown>;
        } catch {
          obj = undefined; // not JSON after all: printed as is
        }
      }
      const text = obj && opts.format ? opts.format(obj).replace(/\n$/, '') : line;
      for (const l of text.split('\n')) to.write(pre + l + '\n');
      const advice = hinted.has(r.spec.name) ? undefined : opts.hint?.(r.spec.name, line);
      if (advice) {
        hinted.add(r.spec.name);
        say(advice);
      }
      if (obj && typeof obj.port === 'number' && typeof obj.msg === 'string' && obj.msg.includes('listening')) {
        opts.onListening?.(r.spec.name, obj.port);
        for (const next of opts.children) if (next.after === r.spec.name && !stopping) start(next);
      }
    });
  }

  function onExit(r: Running, code: number | null, signal: NodeJS.Signals | null): void {
    if (r.exited) return;
    r.exited = true;
    const how = signal ? `signal ${signal}` : `status ${code}`;
    if (!stopping) {
      failed = true;
      say(`${r.spec.name} exited unexpectedly (${how}); stopping the others`);
      stop();
    } else if (code !== 0) {
      failed = true;
      say(`${r.spec.name} stopped with ${how}`);
    }
    // Children still waiting for another never start once stopping: only the started count.
    if (running.every((x) => x.exited)) {
      clearTimeout(killTimer);
      resolveDone(failed ? 1 : 0);
    }
  }

  function stop(): void {
    if (stopping) return;
    stopping = true;
    for (const r of running) if (!r.exited) r.proc.kill('SIGTERM');
    killTimer = setTimeout(() => {
      for (const r of running) {
        if (r.exited) continue;
        failed = true;
        say(`${r.spec.name} did not stop within ${opts.stopTimeoutMs} ms: killing it`);
        r.proc.kill('SIGKILL');
      }
    }, opts.stopTimeoutMs);
  }

  function start(spec: ChildSpec): void {
    if (running.some((r) => r.spec === spec)) return;
    const proc = spawn(spec.command, [...spec.args], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r: Running = { spec, proc, exited: false };
    running.push(r);
    pipeLines(r, proc.stdout!, opts.stdout);
    pipeLines(r, proc.stderr!, opts.stderr);
    // 'close' waits for the output to end, so a dying child's last words are printed first.
    proc.once('close', (code, signal) => onExit(r, code, signal));
    proc.once('error', (err) => {
      say(`cannot start ${spec.name}: ${err.message}`);
      onExit(r, null, null);
    });
    opts.onSpawn?.(spec.name);
  }

  for (const spec of opts.children) if (spec.after === undefined) start(spec);
  return { done, stop };
}
