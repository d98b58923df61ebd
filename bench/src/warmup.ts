/**
 * The unmeasured warm-up before a system's first measured run. The wsq services are freshly
 * started Node processes whose hot paths V8 has not compiled yet, so a first measured run
 * would count the JIT's work against them; nats-server is compiled ahead of time. Every
 * system gets the same warm-up — a pipe (one publisher, one subscriber, as fast as flow
 * control allows) on topics of its own — so the comparison stays fair.
 */
import { SCENARIO_DEFAULTS, type ScenarioPlan } from './options.js';
import { createProgress, type ProgressStream } from './progress.js';
import { SYSTEM_LABELS, formatRate } from './report.js';
import { runScenario, type RunOptions } from './runner.js';
import type { SystemKind } from './transport.js';

/** What a warm-up did; never part of the results, the ratios or the CPU lines. */
export interface WarmupResult {
  system: SystemKind;
  messages: number;
  deliveries: number;
  deliveriesPerSec: number;
  lost: number;
  duplicates: number;
  unexpected: number;
  durationMs: number;
}

/** The pipe scenario's shape with the warm-up's message count; undefined for 0 (no warm-up). */
export function warmupPlan(messages: number): ScenarioPlan | undefined {
  if (messages <= 0) return undefined;
  const { subscribers, publishers, topics } = SCENARIO_DEFAULTS.pipe;
  return Object.freeze({ name: 'pipe', messages, subscribers, publishers, topics, ratePerSec: 0 });
}

/** No scenario is called `warmup`, so these topics never meet a measured run's. */
export function warmupTopicPrefix(system: SystemKind, runId: string): string {
  return `bench.warmup.${system}.${runId}`;
}

/** The stderr line(s) for one warm-up: its rate, and a warning when messages went astray (the bench goes on). */
export function formatWarmup(w: WarmupResult): string {
  const label = `warm-up ${SYSTEM_LABELS[w.system]}`;
  let out = `${label}: ${w.messages} messages, ${formatRate(w.deliveriesPerSec)} deliveries/s (not measured)\n`;
  if (w.lost > 0 || w.duplicates > 0 || w.unexpected > 0) {
    out +=
      `warning: ${label} lost ${w.lost}, duplicated ${w.duplicates} and misrouted ${w.unexpected} ` +
      `of ${w.messages} messages (not counted; the measured runs go on)\n`;
  }
  return out;
}

/** What a warm-up shares with the measured runs of its system. */
export type BaseRunOptions = Omit<RunOptions, 'plan' | 'topicPrefix' | 'onProgress' | 'onPublishing'>;

/** One warm-up run against one system; its progress bar and its line go to stderr. */
export async function warmUp(
  opts: BaseRunOptions,
  plan: ScenarioPlan,
  runId: string,
  stderr: ProgressStream,
): Promise<WarmupResult> {
  const bar = createProgress(stderr, `warm-up ${SYSTEM_LABELS[opts.endpoint.system]}`);
  let r;
  try {
    r = await runScenario({
      ...opts,
      plan,
      topicPrefix: warmupTopicPrefix(opts.endpoint.system, runId),
      onProgress: (p) => bar.update(p),
    });
  } finally {
    bar.done();
  }
  const result: WarmupResult = {
    system: r.system,
    messages: plan.messages,
    deliveries: r.deliveries,
    deliveriesPerSec: r.deliveriesPerSec,
    lost: r.lost,
    duplicates: r.duplicates,
    unexpected: r.unexpected,
    durationMs: r.durationMs,
  };
  stderr.write(formatWarmup(result));
  return result;
}
