/**
 * CPU seconds each process of a run used, read from Linux's /proc/<pid>/stat (user + system
 * time of every thread), and the bench's own from process.cpuUsage(). Wall-clock rates swing
 * with whatever else the machine runs; CPU seconds per message are the steadier figure for
 * comparing two builds. Elsewhere than Linux the services' figures are simply absent.
 */
import { readFileSync } from 'node:fs';

/** Linux reports utime/stime in clock ticks of USER_HZ, which is 100 on every Linux ABI in use. */
const TICKS_PER_SECOND = 100;

/** utime + stime in seconds from a /proc/<pid>/stat line, or undefined if it is not one. */
export function parseProcStat(text: string): number | undefined {
  // Field 2 (comm) is in parentheses and may contain spaces: count fields after its last ')'.
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // After comm: field 3 is fields[0], so utime (14) and stime (15) are fields[11] and [12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / TICKS_PER_SECOND;
}

/** CPU seconds used so far by `pid`, or undefined (no /proc, or the process is gone). */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The bench process itself, worker threads included. */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

export type CpuSample = Record<string, number>;

/** One reading of every named process (the bench as `bench`); unreadable ones are left out. */
export function sampleCpu(pids: Record<string, number | undefined>): CpuSample {
  const out: CpuSample = { bench: ownCpuSeconds() };
  for (const [name, pid] of Object.entries(pids)) {
    const s = processCpuSeconds(pid);
    if (s !== undefined) out[name] = s;
  }
  return out;
}

/** CPU seconds used between two samples, per process present in both. */
export function cpuBetween(before: CpuSample, after: CpuSample): CpuSample {
  const out: CpuSample = {};
  for (const [name, s] of Object.entries(after)) {
    const b = before[name];
    if (b !== undefined) out[name] = Math.max(0, s - b);
  }
  return out;
}
