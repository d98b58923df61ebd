/** Runs the bench as `wsq-bench ARGV` would, in this process, with its two streams caught. */
import { runBench, type BenchOutcome } from '../../src/bench.js';
import { parseBenchArgs } from '../../src/options.js';

export interface CaughtRun {
  outcome: BenchOutcome;
  stdout: string;
  stderr: string;
}

/** Parses `argv` (no environment) and runs it; a refused command line throws with its message. */
export async function runBenchArgs(argv: readonly string[]): Promise<CaughtRun> {
  const parsed = parseBenchArgs(argv, {});
  if (parsed.kind !== 'run') throw new Error(parsed.output);
  const out: string[] = [];
  const err: string[] = [];
  const outcome = await runBench(parsed.config, {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
  });
  return { outcome, stdout: out.join(''), stderr: err.join('') };
}
