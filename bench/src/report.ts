/**
 * Results as a table for people, JSON for machines, and the wsq ÷ NATS ratio per scenario.
 * Pure functions of RunResult lists.
 */
import { DEPLOYMENT_LABELS, type DeploymentId } from './deployments.js';
import type { RunResult } from './runner.js';
import type { SystemKind } from './transport.js';
import type { WarmupResult } from './warmup-result.js';

export const SYSTEM_LABELS: Readonly<Record<SystemKind, string>> = {
  'wsq-legacy': 'wsq legacy',
  'wsq-v1': 'wsq v1',
  nats: 'NATS',
  jetstream: 'JetStream',
};

/** What names a system of a run: its kind, and for a wsq system the bench started, its deployment. */
export interface SystemKey {
  system: SystemKind;
  deployment?: DeploymentId;
}

/**
 * Names the systems of one run: the kind alone ("wsq v1") when the run has one deployment,
 * else with it ("wsq v1 (trio, JetStream R3)"). References are never a deployment's.
 */
export function labeller(systems: readonly SystemKey[]): (s: SystemKey) => string {
  const several = new Set(systems.map((s) => s.deployment).filter((d) => d !== undefined)).size > 1;
  return (s) =>
    several && s.deployment !== undefined
      ? `${SYSTEM_LABELS[s.system]} (${DEPLOYMENT_LABELS[s.deployment]})`
      : SYSTEM_LABELS[s.system];
}

/** The reference systems (measured beside wsq, never judged for loss). */
export function isReference(system: SystemKind): boolean {
  return system === 'nats' || system === 'jetstream';
}

export function formatRate(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Milliseconds with about three significant digits. */
export function formatMs(ms: number): string {
  if (ms === 0) return '0';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

const COLUMNS = [
  'scenario',
  'system',
  'published/s',
  'deliveries/s',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'p99.9 ms',
  'max ms',
  'lost',
];

function row(r: RunResult, label: (s: SystemKey) => string): string[] {
  const lost = r.duplicates > 0 ? `${r.lost} (+${r.duplicates} dup)` : String(r.lost);
  return [
    r.round === undefined ? r.scenario : `${r.scenario} #${r.round}`,
    label(r),
    formatRate(r.publishedPerSec),
    formatRate(r.deliveriesPerSec),
    formatMs(r.latency.p50),
    formatMs(r.latency.p90),
    formatMs(r.latency.p99),
    formatMs(r.latency.p999),
    formatMs(r.latency.max),
    lost,
  ];
}

/** A plain-text table; numbers right-aligned. */
export function formatTable(results: readonly RunResult[]): string {
  const label = labeller(results);
  const rows = [COLUMNS, ...results.map((r) => row(r, label))];
  const widths = COLUMNS.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string =>
    cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n') + '\n';
}

/** The same table in Markdown, for docs/performance.md. */
export function formatMarkdownTable(results: readonly RunResult[]): string {
  const label = labeller(results);
  const rows = results.map((r) => row(r, label));
  const head = `| ${COLUMNS.join(' | ')} |`;
  const rule = `|${COLUMNS.map((_, c) => (c < 2 ? '---' : '---:')).join('|')}|`;
  return [head, rule, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
}

export interface Ratio {
  scenario: string;
  system: SystemKind;
  /** The wsq system's deployment, when the bench started it. */
  deployment?: DeploymentId;
  /** What it is compared with. */
  reference: SystemKind;
  /** wsq ÷ NATS: above 1 is faster than NATS. */
  deliveriesPerSec: number;
  /** wsq ÷ NATS: below 1 is lower latency than NATS. */
  p50: number;
  p99: number;
  /** When both were acknowledged: wsq's ack p99 ÷ the reference's. */
  ackP99?: number;
  /** wsq matches or beats NATS: throughput ≥ (rate-paced runs: delivered all), p99 ≤ (and ack p99 ≤ when both acknowledge), and nothing lost. */
  beats: boolean;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * One result per scenario and system: the run itself, or with --repeat the medians of
 * deliveries/s, p50 and p99 over its runs, with losses and duplicates added up.
 */
function summaryOf(runs: readonly RunResult[]): RunResult {
  if (runs.length === 1) return runs[0]!;
  const first = runs[0]!;
  return {
    ...first,
    deliveriesPerSec: median(runs.map((r) => r.deliveriesPerSec)),
    deliveries: Math.min(...runs.map((r) => r.deliveries)),
    expectedDeliveries: Math.max(...runs.map((r) => r.expectedDeliveries)),
    lost: runs.reduce((a, r) => a + r.lost, 0),
    duplicates: runs.reduce((a, r) => a + r.duplicates, 0),
    latency: {
      ...first.latency,
      p50: median(runs.map((r) => r.latency.p50)),
      p99: median(runs.map((r) => r.latency.p99)),
    },
    ...(first.ackLatency
      ? {
          ackLatency: {
            ...first.ackLatency,
            p50: median(runs.map((r) => r.ackLatency?.p50 ?? 0)),
            p99: median(runs.map((r) => r.ackLatency?.p99 ?? 0)),
          },
        }
      : {}),
  };
}

export function ratios(all: readonly RunResult[]): Ratio[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of all) {
    const key = `${r.scenario}\u0000${r.system}\u0000${r.deployment ?? ''}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const results = [...groups.values()].map(summaryOf);
  const out: Ratio[] = [];
  for (const r of results) {
    if (isReference(r.system)) continue;
    for (const ref of results) {
      if (!isReference(ref.system) || ref.scenario !== r.scenario) continue;
      out.push(ratioOf(r, ref));
    }
  }
  return out;
}

function ratioOf(r: RunResult, ref: RunResult): Ratio {
  const div = (a: number, b: number): number => (b > 0 ? a / b : a > 0 ? Infinity : 1);
  const paced = r.plan.ratePerSec > 0;
  const fastEnough = paced ? r.deliveries >= r.expectedDeliveries : r.deliveriesPerSec >= ref.deliveriesPerSec;
  const acks = r.ackLatency !== undefined && ref.ackLatency !== undefined;
  return {
    scenario: r.scenario,
    system: r.system,
    ...(r.deployment === undefined ? {} : { deployment: r.deployment }),
    reference: ref.system,
    deliveriesPerSec: div(r.deliveriesPerSec, ref.deliveriesPerSec),
    p50: div(r.latency.p50, ref.latency.p50),
    p99: div(r.latency.p99, ref.latency.p99),
    ...(acks ? { ackP99: div(r.ackLatency!.p99, ref.ackLatency!.p99) } : {}),
    beats:
      fastEnough &&
      r.latency.p99 <= ref.latency.p99 &&
      (!acks || r.ackLatency!.p99 <= ref.ackLatency!.p99) &&
      r.lost === 0 &&
      r.duplicates === 0,
  };
}

export function formatRatios(list: readonly Ratio[], repeated = false): string {
  if (list.length === 0) return '';
  const x = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '∞');
  const label = labeller(list);
  const lines = list.map((r) => {
    const ref = SYSTEM_LABELS[r.reference];
    return (
      `${r.scenario.padEnd(8)} ${label(r)} ÷ ${ref}: deliveries/s ${x(r.deliveriesPerSec)}, ` +
      `p50 ${x(r.p50)}, p99 ${x(r.p99)}${r.ackP99 === undefined ? '' : `, ack p99 ${x(r.ackP99)}`} — ` +
      (r.beats ? `matches or beats ${ref}` : `behind ${ref}`)
    );
  });
  const refs = [...new Set(list.map((r) => SYSTEM_LABELS[r.reference]))].join(', ');
  const head = `wsq ÷ ${refs} (throughput: higher is better; latency: lower is better)`;
  return [repeated ? `${head}, medians of the runs` : head, ...lines].join('\n') + '\n';
}

/**
 * CPU seconds per process for each run, and per delivered message in µs: the system's
 * processes summed (wsq's services, or nats-server), then the bench's clients apart, with the
 * busiest client worker's share of its time, so a reader sees whether the clients could have
 * been what limited the run.
 */
export function formatCpu(results: readonly RunResult[]): string {
  const rows = results.filter((r) => r.cpuSeconds && Object.keys(r.cpuSeconds).length > 0);
  if (rows.length === 0) return '';
  const perDelivery = (s: number, r: RunResult): string =>
    r.deliveries > 0 ? `${((s * 1e6) / r.deliveries).toFixed(1)} µs` : '–';
  const label = labeller(results);
  const lines = rows.map((r) => {
    const cpu = r.cpuSeconds!;
    const servers = Object.entries(cpu).filter(([name]) => name !== 'bench');
    const serverTotal = servers.reduce((a, [, s]) => a + s, 0);
    const parts = servers.map(([name, s]) => `${name} ${s.toFixed(2)}`).join(' + ');
    const client = cpu.bench;
    const scenario = r.round === undefined ? r.scenario : `${r.scenario} #${r.round}`;
    let line = `${scenario.padEnd(8)} ${label(r)}: ${parts || 'servers –'} = ${serverTotal.toFixed(2)} s, ${perDelivery(serverTotal, r)} per delivery`;
    if (client !== undefined) {
      line += `; clients (bench) ${client.toFixed(2)} s, ${perDelivery(client, r)} per delivery`;
    }
    if (r.clientBusy !== undefined) line += `, busiest client worker ${Math.round(r.clientBusy * 100)} % busy`;
    return line;
  });
  return ['CPU seconds from the start of publishing to the end of each run', ...lines].join('\n') + '\n';
}

/** Above this rise with twice the workers, a reference's figure was capped by the clients. */
export const CLIENT_CHECK_TOLERANCE = 0.1;
/**
 * A client worker this busy may be what limits a run: more workers cannot help when one
 * connection's thread is saturated (a pipe's single subscriber), so the check alone cannot say.
 */
export const CLIENT_BUSY_LIMIT = 0.9;

/**
 * `--client-check`: each reference's run with twice the client workers beside the median of
 * its measured runs. A rise beyond CLIENT_CHECK_TOLERANCE says the clients capped it.
 */
export function formatClientCheck(
  results: readonly RunResult[],
  checks: readonly RunResult[],
  workers: number,
): string {
  if (checks.length === 0) return '';
  const lines = checks.map((c) => {
    const runs = results.filter((r) => r.scenario === c.scenario && r.system === c.system);
    const base = median(runs.map((r) => r.deliveriesPerSec));
    const rise = base > 0 ? c.deliveriesPerSec / base - 1 : 0;
    const busy = Math.max(c.clientBusy ?? 0, ...runs.map((r) => r.clientBusy ?? 0));
    const verdict =
      rise > CLIENT_CHECK_TOLERANCE
        ? 'higher: the clients limited this reference'
        : busy >= CLIENT_BUSY_LIMIT
          ? `not higher, but a client worker was ${Math.round(busy * 100)} % busy: one connection's thread may cap it`
          : 'not higher: the clients did not limit it';
    return (
      `${c.scenario.padEnd(8)} ${SYSTEM_LABELS[c.system]}: ${formatRate(c.deliveriesPerSec)} deliveries/s with ` +
      `${workers * 2} workers against ${formatRate(base)} with ${workers} (${rise >= 0 ? '+' : ''}${(rise * 100).toFixed(0)} %), ` +
      verdict
    );
  });
  return ['client check: each reference again with twice the client workers', ...lines].join('\n') + '\n';
}

/** Problems worth a line under the table: connections the server closed, refusals, publish failures. */
export function formatNotes(results: readonly RunResult[]): string {
  const notes: string[] = [];
  const label = labeller(results);
  for (const r of results) {
    const who = `${r.scenario} ${label(r)}`;
    const closed = Object.entries(r.closedByServer);
    if (closed.length > 0) notes.push(`${who}: server closed ${closed.map(([c, n]) => `${n}× ${c}`).join(', ')}`);
    if (r.refused > 0) notes.push(`${who}: ${r.refused} publishes refused by the server`);
    if (r.acked !== undefined) {
      const wait =
        r.ackLatency && r.ackLatency.count > 0
          ? `, ack p50 ${formatMs(r.ackLatency.p50)} ms, p99 ${formatMs(r.ackLatency.p99)} ms`
          : '';
      notes.push(`${who}: ${r.acked} of ${r.published} acknowledged${wait}${unackedNote(r)}`);
    }
    if ((r.clientBusy ?? 0) >= CLIENT_BUSY_LIMIT) {
      notes.push(
        `${who}: a client worker was ${Math.round(r.clientBusy! * 100)} % busy; the clients may have limited this run`,
      );
    }
    if (r.unexpected > 0) notes.push(`${who}: ${r.unexpected} deliveries on a topic the subscriber did not ask for`);
    if (r.publishFailed) notes.push(`${who}: publishing failed: ${r.publishFailed}`);
    for (const [counter, n] of Object.entries(r.serverCounters ?? {}))
      notes.push(`${who}: server counter ${counter} +${n}`);
  }
  return notes.map((n) => `note: ${n}\n`).join('');
}

/** Published messages neither acknowledged nor refused (with `--acks`). */
export function unacked(r: RunResult): number {
  return r.acked === undefined ? 0 : Math.max(0, r.published - r.acked - r.refused);
}

function unackedNote(r: RunResult): string {
  const n = unacked(r);
  return n > 0 ? `; ${n} neither acknowledged nor refused` : '';
}

export interface BenchMeta {
  startedAt: string;
  node: string;
  cpus: number;
  workers: number;
  payloadBytes: number;
  target: string;
  topology?: string;
  queue?: string;
  /** Unanswered messages an acknowledged publisher allowed. */
  inFlight?: number;
  natsVersion?: string;
  /** --warmup-messages: the most messages of the unmeasured run of its shape each system got before each scenario (0: none). */
  warmupMessages?: number;
}

/** The warm-ups, when given, go in a `warmup` field of their own: never in `results` or `ratios`. */
export function toJson(
  meta: BenchMeta,
  results: readonly RunResult[],
  warmups: readonly WarmupResult[] = [],
  clientChecks: readonly RunResult[] = [],
): string {
  const strip = (list: readonly RunResult[]): Omit<RunResult, 'histogram'>[] =>
    list.map(({ histogram: _h, ...rest }) => rest);
  const warmup = warmups.length > 0 ? { warmup: warmups } : {};
  const checks = clientChecks.length > 0 ? { clientChecks: strip(clientChecks) } : {};
  return (
    JSON.stringify({ meta, ...warmup, results: strip(results), ratios: ratios(results), ...checks }, null, 2) + '\n'
  );
}
