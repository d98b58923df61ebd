/**
 * A whole bench run: start (or point at) wsq, start the NATS reference if asked, warm each
 * system up (unmeasured), run each scenario against each system, then write the charts and
 * print the table, the ratios and — with --profile — where each service spent its time.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { startNatsServer, findNatsServer, natsEndpoint, type NatsServer } from './nats.js';
import type { BenchConfig, BenchProtocol, ScenarioPlan } from './options.js';
import { formatProfileSummary, summarizeProfile, type CpuProfile } from './profile.js';
import { createProgress, type ProgressStream } from './progress.js';
import {
  SYSTEM_LABELS,
  formatCpu,
  formatNotes,
  formatRate,
  formatRatios,
  formatTable,
  ratios,
  toJson,
  unacked,
  type BenchMeta,
} from './report.js';
import { runScenario, type RunResult } from './runner.js';
import { cpuBetween, sampleCpu } from './cpu.js';
import { diffCounters, scrapeCounters } from './server-counters.js';
import { percentileCurve } from './stats.js';
import { renderLatencyChart } from './svg.js';
import type { Endpoint } from './transport.js';
import { ROOT, startTrio, type Trio } from './trio.js';
import { warmUp, warmupPlan, type BaseRunOptions, type WarmupResult } from './warmup.js';

export interface BenchIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
}

export interface BenchOutcome {
  exitCode: number;
  results: RunResult[];
  /** The unmeasured warm-ups, one per system (none with --warmup-messages 0). */
  warmups: WarmupResult[];
}

/** Exit status when wsq lost, duplicated or misrouted a message (the run itself worked). */
export const EXIT_LOSS = 3;

export function svgPath(config: BenchConfig, scenario: string): string {
  if (config.svg === undefined) return join(ROOT, 'bench', 'results', `latency-${scenario}.svg`);
  if (config.scenarios.length === 1) return config.svg;
  const ext = extname(config.svg);
  return join(dirname(config.svg), `${basename(config.svg, ext)}-${scenario}${ext || '.svg'}`);
}

function describePlan(p: ScenarioPlan): string {
  const pace = p.ratePerSec > 0 ? `at ${p.ratePerSec} msg/s` : 'as fast as possible';
  return `${p.messages} messages ${pace}, ${p.publishers} publisher(s) → ${p.subscribers} subscriber(s) on ${p.topics} topic(s)`;
}

function wsqEndpoint(config: BenchConfig, protocol: BenchProtocol, trio: Trio | undefined): Endpoint {
  const system = protocol === 'v1' ? 'wsq-v1' : 'wsq-legacy';
  const where: Omit<Endpoint, 'system'> = trio
    ? {
        publishUrl: trio.publishUrl,
        subscribeUrl: trio.subscribeUrl,
        user: trio.user,
        password: trio.password,
        ca: trio.ca,
      }
    : {
        publishUrl: config.publishUrl!,
        subscribeUrl: config.subscribeUrl!,
        user: config.user,
        password: config.password,
        ca: config.ca === undefined ? undefined : readFileSync(config.ca, 'utf8'),
      };
  return system === 'wsq-v1' && config.acks ? { system, ...where, acks: true } : { system, ...where };
}

function profileReport(dir: string): string {
  if (!existsSync(dir)) return '';
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  return files
    .map((f) => {
      const profile = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
      return formatProfileSummary(basename(f, '.cpuprofile'), summarizeProfile(profile));
    })
    .join('\n');
}

export async function runBench(config: BenchConfig, io: BenchIo): Promise<BenchOutcome> {
  const say = (s: string): unknown => io.stderr.write(s + '\n');
  let natsBinary: string | undefined;
  if (config.reference === 'nats') {
    natsBinary = findNatsServer(config.natsServer);
    if (!natsBinary) {
      say('wsq-bench: --reference nats needs nats-server on PATH (or --nats-server PATH)');
      return { exitCode: 2, results: [], warmups: [] };
    }
  }
  const meta: BenchMeta = {
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    workers: config.workers,
    payloadBytes: config.payloadBytes,
    target: config.target,
    warmupMessages: config.warmupMessages,
  };
  const results: RunResult[] = [];
  const warmups: WarmupResult[] = [];
  let trio: Trio | undefined;
  let nats: NatsServer | undefined;
  const runId = randomBytes(3).toString('hex');
  try {
    if (config.target === 'self') {
      say('starting msgqueue, publisher and subscriber…');
      trio = await startTrio({
        extraArgs: config.serviceArgs,
        profileDir: config.profile,
        nodeArgs: config.serviceNodeArgs,
      });
    }
    const endpoints = config.protocols.map((p) => wsqEndpoint(config, p, trio));
    if (natsBinary) {
      nats = await startNatsServer(natsBinary);
      meta.natsVersion = nats.version;
      say(`started nats-server ${nats.version} (${natsBinary}) with a TLS WebSocket listener at ${nats.wsUrl}`);
      endpoints.push(natsEndpoint(nats));
    }
    const runOptions = (endpoint: Endpoint): BaseRunOptions => ({
      endpoint,
      workers: config.workers,
      payloadBytes: config.payloadBytes,
      publisherBufferBytes: config.publisherBufferBytes,
      connectConcurrency: config.connectConcurrency,
      idleTimeoutMs: config.idleTimeoutMs,
    });
    for (const plan of config.scenarios) {
      // Before each scenario's first measured run, once per system: a run of the same shape.
      const warmup = warmupPlan(plan, config.warmupMessages);
      if (warmup) {
        for (const endpoint of endpoints) warmups.push(await warmUp(runOptions(endpoint), warmup, runId, io.stderr));
      }
      for (let round = 1; round <= config.repeat; round++) {
        for (const endpoint of endpoints) {
          const label = `${plan.name} ${SYSTEM_LABELS[endpoint.system]}${config.repeat > 1 ? ` #${round}` : ''}`;
          say(`${label}: ${describePlan(plan)}`);
          const bar = createProgress(io.stderr, label);
          const metricsUrls = endpoint.system === 'nats' ? [] : [endpoint.publishUrl, endpoint.subscribeUrl];
          if (trio && endpoint.system !== 'nats') metricsUrls.push(trio.msgqueueUrl);
          const auth =
            endpoint.user === undefined ? undefined : { user: endpoint.user, password: endpoint.password ?? '' };
          const before = await scrapeCounters(metricsUrls, endpoint.ca, auth);
          const pids: Record<string, number | undefined> =
            endpoint.system === 'nats' ? { 'nats-server': nats?.pid } : { ...trio?.pids() };
          // Sampled again when publishing starts, so connection set-up (1 000 TLS handshakes in
          // `topics`) is not counted against the messages.
          let cpuBefore = sampleCpu(pids);
          let result: RunResult;
          try {
            result = await runScenario({
              ...runOptions(endpoint),
              plan,
              topicPrefix: `bench.${plan.name}.${endpoint.system}.${runId}.r${round}`,
              onProgress: (p) => bar.update(p),
              onPublishing: () => (cpuBefore = sampleCpu(pids)),
            });
          } finally {
            bar.done();
          }
          result.cpuSeconds = cpuBetween(cpuBefore, sampleCpu(pids));
          if (metricsUrls.length > 0) {
            result.serverCounters = diffCounters(before, await scrapeCounters(metricsUrls, endpoint.ca, auth));
          }
          if (config.repeat > 1) result.round = round;
          results.push(result);
          say(
            `${label}: ${formatRate(result.deliveriesPerSec)} deliveries/s, p99 ${result.latency.p99.toFixed(2)} ms, lost ${result.lost}`,
          );
        }
      }
    }
  } finally {
    await nats?.stop();
    if (trio) {
      const warnings = Object.entries(trio.warnings()).filter(([, lines]) => lines.length > 0);
      for (const [service, lines] of warnings)
        say(`${service} logged warnings (newest ${lines.length}):\n  ${lines.join('\n  ')}`);
      await trio.stop();
    }
  }
  for (const plan of config.scenarios) {
    const series = results
      .filter((r) => r.scenario === plan.name && (r.round ?? 1) === config.repeat)
      .map((r) => ({
        label: `${SYSTEM_LABELS[r.system]} (p99 ${r.latency.p99.toFixed(2)} ms)`,
        points: percentileCurve(r.histogram),
      }));
    const file = svgPath(config, plan.name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(
      file,
      renderLatencyChart({
        title: `wsq-bench ${plan.name}: latency by percentile`,
        subtitle: describePlan(plan),
        series,
      }),
    );
    say(`chart: ${file}`);
  }
  const human =
    formatTable(results) + formatRatios(ratios(results), config.repeat > 1) + formatCpu(results) + formatNotes(results);
  const profile = config.profile ? profileReport(config.profile) : '';
  if (config.json) {
    io.stderr.write(human + profile);
    io.stdout.write(toJson(meta, results, warmups));
  } else {
    io.stdout.write(human + (profile ? '\n' + profile : ''));
  }
  const bad = results.some(
    (r) => r.system !== 'nats' && (r.lost > 0 || r.duplicates > 0 || r.unexpected > 0 || unacked(r) > 0),
  );
  return { exitCode: bad ? EXIT_LOSS : 0, results, warmups };
}
