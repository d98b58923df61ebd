/**
 * A scenario run's outcome, merged from the workers' reports: counts, loss per subscriber,
 * rates over the run's own clock, and the latency histograms added into one.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import type { ScenarioPlan } from './options.js';
import { summarize, type LatencySummary } from './stats.js';
import type { Endpoint } from './transport.js';
import { expectedOnTopic, type WorkerResult, type WorkerSetup, type WorkerToMain } from './worker-protocol.js';

export interface RunResult {
  scenario: ScenarioPlan['name'];
  system: Endpoint['system'];
  /** A wsq system the bench started: which deployment (trio on a queue home, or wsq-server). */
  deployment?: Endpoint['deployment'];
  /** With --repeat: which run of this scenario and system (1-based). */
  round?: number;
  plan: ScenarioPlan;
  published: number;
  publishedPerSec: number;
  expectedDeliveries: number;
  deliveries: number;
  deliveriesPerSec: number;
  lost: number;
  duplicates: number;
  unexpected: number;
  refused: number;
  /** With `--acks` (wsq.v1) and JetStream: messages acknowledged by the server. */
  acked?: number;
  /** With acks: how long a published message waited for its ack (from the send to the answer). */
  ackLatency?: LatencySummary;
  closedByServer: Record<string, number>;
  publishFailed: string | undefined;
  /** wsq only: drop/close/invalid-frame counters that grew on the servers during the run. */
  serverCounters?: Record<string, number>;
  /**
   * CPU seconds each process used from the start of publishing to the end of the run (`bench` is this process, worker threads
   * included; the servers' figures need Linux's /proc and are absent elsewhere).
   */
  cpuSeconds?: Record<string, number>;
  /**
   * The busiest client worker thread's event-loop utilization from the start of publishing (1:
   * never idle). Near 1, the clients may be what limits the run; well below, they are not.
   */
  clientBusy?: number;
  durationMs: number;
  latency: LatencySummary;
  /** Merged latency histogram (µs), hdr-histogram-js compressed base64. */
  histogram: string;
}

/** What merge needs of each worker: its share, its result and its `published` report. */
export interface WorkerOutcome {
  setup: WorkerSetup;
  result: WorkerResult | undefined;
  published: Extract<WorkerToMain, { type: 'published' }> | undefined;
}

export function mergeResults(
  plan: ScenarioPlan,
  system: Endpoint['system'],
  slots: readonly WorkerOutcome[],
  expected: number,
  startAtMs: number,
): RunResult {
  const hist = build({ bitBucketSize: 64, numberOfSignificantValueDigits: 3 });
  const ackHist = build({ bitBucketSize: 64, numberOfSignificantValueDigits: 3 });
  const perSub = new Map<number, number>();
  const closedByServer: Record<string, number> = {};
  let published = 0;
  let lastSend = startAtMs;
  let lastReceive = startAtMs;
  let duplicates = 0;
  let unexpected = 0;
  let refused = 0;
  let acked = 0;
  let clientBusy = 0;
  let publishFailed: string | undefined;
  for (const { setup, result, published: pub } of slots) {
    const r = result!;
    hist.add(decodeFromCompressedBase64(r.histogram));
    if (r.ackHistogram !== undefined) ackHist.add(decodeFromCompressedBase64(r.ackHistogram));
    setup.subscribers.forEach((s, i) => perSub.set(s, r.receivedBySubscriber[i]));
    for (const [code, n] of Object.entries(r.closedByServer)) closedByServer[code] = (closedByServer[code] ?? 0) + n;
    published += r.published;
    lastSend = Math.max(lastSend, pub?.lastSendAtMs ?? 0);
    lastReceive = Math.max(lastReceive, r.lastReceiveAtMs);
    duplicates += r.duplicates;
    unexpected += r.unexpected;
    refused += r.refused;
    acked += r.acked;
    clientBusy = Math.max(clientBusy, r.busy);
    publishFailed ??= pub?.failed;
  }
  let lost = 0;
  let deliveries = 0;
  for (let s = 0; s < plan.subscribers; s++) {
    const got = perSub.get(s) ?? 0;
    deliveries += got;
    lost += Math.max(0, expectedOnTopic(plan.messages, plan.topics, s % plan.topics) - got);
  }
  const perSec = (n: number, until: number): number => (until > startAtMs ? (n * 1000) / (until - startAtMs) : 0);
  return {
    scenario: plan.name,
    system,
    plan,
    published,
    publishedPerSec: perSec(published, lastSend),
    expectedDeliveries: expected,
    deliveries,
    deliveriesPerSec: perSec(deliveries, lastReceive),
    lost,
    duplicates,
    unexpected,
    refused,
    // Every worker of a run shares one endpoint: acks were counted when it asked for them.
    ...(slots[0]?.setup.endpoint.acks === true ? { acked, ackLatency: summarize(ackHist) } : {}),
    closedByServer,
    publishFailed,
    clientBusy,
    durationMs: Math.max(lastSend, lastReceive) - startAtMs,
    latency: summarize(hist),
    histogram: encodeIntoCompressedBase64(hist),
  };
}
