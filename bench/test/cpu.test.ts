import t from 'tap';
import { cpuBetween, ownCpuSeconds, parseProcStat, processCpuSeconds, sampleCpu } from '../src/cpu.js';
import { formatCpu } from '../src/report.js';
import type { RunResult } from '../src/runner.js';

t.test('parseProcStat: utime + stime in seconds, whatever the command name holds', async (t) => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
  const line = '4242 (node main.js) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 11 0 100 0';
  t.equal(parseProcStat(line), 3.25);
  t.equal(parseProcStat('7 (a) b) c) R 1 7 7 0 -1 0 0 0 0 0 12 8 0 0'), 0.2, 'a ")" inside the name');
  t.equal(parseProcStat('no parenthesis here'), undefined);
  t.equal(parseProcStat('1 (x) S 1'), undefined, 'too short');
});

t.test('processCpuSeconds and sampleCpu read real processes; the gone ones are left out', async (t) => {
  const mine = processCpuSeconds(process.pid);
  if (process.platform === 'linux') t.ok(mine !== undefined && mine >= 0, 'this process on Linux');
  t.equal(processCpuSeconds(undefined), undefined);
  t.equal(processCpuSeconds(2 ** 30), undefined, 'no such process');
  const before = sampleCpu({ me: process.pid, gone: 2 ** 30 });
  t.notOk('gone' in before);
  const until = ownCpuSeconds() + 0.05;
  while (ownCpuSeconds() < until); // burn 50 ms of CPU
  const used = cpuBetween(before, sampleCpu({ me: process.pid }));
  t.ok(used.bench! >= 0.05, 'the bench counts its own CPU');
  if (process.platform === 'linux') t.ok(used.me! >= 0.01, '/proc saw it too');
  t.same(cpuBetween({ a: 2, b: 1 }, { a: 1.5, c: 3 }), { a: 0 }, 'only names in both, never negative');
});

t.test('formatCpu: seconds per process and µs per delivery', async (t) => {
  const r = {
    scenario: 'pipe',
    system: 'wsq-legacy',
    deliveries: 100_000,
    cpuSeconds: { msgqueue: 1, publisher: 0.5, subscriber: 0.25, bench: 0.25 },
  } as unknown as RunResult;
  t.equal(
    formatCpu([r, { ...r, cpuSeconds: {} }]),
    'CPU seconds from the start of publishing to the end of each run\npipe     wsq legacy: msgqueue 1.00 + publisher 0.50 + subscriber 0.25 = 1.75 s, 17.5 µs per delivery; clients (bench) 0.25 s, 2.5 µs per delivery\n',
  );
  t.equal(formatCpu([{ ...r, cpuSeconds: undefined }]), '', 'nothing without figures');
});
