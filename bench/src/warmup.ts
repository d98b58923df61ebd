/**
 * The unmeasured warm-ups before a system's first measured run of each scenario. The wsq
 * services are freshly started Node processes whose hot paths V8 has not compiled yet, so a
 * first measured run would count the JIT's work against them; nats-server is compiled ahead
 * of time. A scenario's shape decides which paths are hot (one socket or a hundred per topic,
 * batches of hundreds or of one message at 2 000 msg/s), so each scenario gets a warm-up of
 * its own shape: the same publishers, subscribers, topics and rate, with fewer messages, on
 * topics of its own. Every system gets the same warm-ups, so the comparison stays fair.
 */
import type { ScenarioName, ScenarioPlan } from './options.js';
import { createProgress, type ProgressStream } from './progress.js';
import { SYSTEM_LABELS, formatRate } from './report.js';
import { runScenario, type RunOptions } from './runner.js';
import type { SystemKind } from './transport.js';
import type { WarmupResult } from './warmup-result.js';

export type { WarmupResult } from './warmup-result.js';

/**
 * `plan`'s shape with `messages` messages (--warmup-messages), but no more than the scenario's
 * own; undefined for 0 (no warm-up). The default 100 000 makes every warm-up a whole run of
 * its scenario: a 2 s latency warm-up still left the first measured run with a p99 ~1 ms
 * higher than the next and more CPU in every service, and after a 20 000-message pipe warm-up
 * the first pipe run was still ~20 % slower than the next; whole runs mostly close that gap.
 */
export function warmupPlan(plan: ScenarioPlan, messages: number): ScenarioPlan | undefined {
  if (messages <= 0) return undefined;
  return Object.freeze({ ...plan, messages: Math.min(messages, plan.messages) });
}

/** No scenario is called `warmup`, so these topics never meet a measured run's. */
export function warmupTopicPrefix(scenario: ScenarioName, system: SystemKind, runId: string): string {
  return `bench.warmup.${scenario}.${system}.${runId}`;
}

/** The stderr line(s) for one warm-up: its rate, and a warning when messages went astray (the bench goes on). */
export function formatWarmup(w: WarmupResult, systemLabel = SYSTEM_LABELS[w.system]): string {
  const label = `warm-up ${w.scenario} ${systemLabel}`;
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

/** One warm-up run against one system (named `systemLabel` in its lines); its progress bar and its line go to stderr. */
export async function warmUp(
  opts: BaseRunOptions,
  plan: ScenarioPlan,
  runId: string,
  stderr: ProgressStream,
  systemLabel = SYSTEM_LABELS[opts.endpoint.system],
): Promise<WarmupResult> {
  const bar = createProgress(stderr, `warm-up ${plan.name} ${systemLabel}`);
  let r;
  try {
    r = await runScenario({
      ...opts,
      plan,
      topicPrefix: warmupTopicPrefix(plan.name, opts.endpoint.system, runId),
      onProgress: (p) => bar.update(p),
    });
  } finally {
    bar.done();
  }
  const result: WarmupResult = {
    scenario: plan.name,
    system: r.system,
    ...(r.deployment === undefined ? {} : { deployment: r.deployment }),
    messages: plan.messages,
    deliveries: r.deliveries,
    deliveriesPerSec: r.deliveriesPerSec,
    lost: r.lost,
    duplicates: r.duplicates,
    unexpected: r.unexpected,
    durationMs: r.durationMs,
  };
  stderr.write(formatWarmup(result, systemLabel));
  return result;
}
