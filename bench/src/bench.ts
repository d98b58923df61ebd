/**
 * A whole bench run: start (or point at) wsq, start the NATS reference if asked, warm each
 * system up (unmeasured), run each scenario against each system, then write the charts and
 * print the table, the ratios and — with --profile — where each service spent its time.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { runConnections, type ConnectionsResult } from './connections.js';
import { deploymentId, describeDeployment, type Deployment, type DeploymentId } from './deployments.js';
import { natsNeeds, selfDeployments, startWsq, type BenchIo } from './start-wsq.js';
import { createBenchStream, startNatsServer, findNatsServer, natsEndpoint, type NatsServer } from './nats.js';
import type { BenchConfig, BenchProtocol, ScenarioPlan } from './options.js';
import { formatProfileSummary, summarizeProfile, type CpuProfile } from './profile.js';
import { createProgress } from './progress.js';
import {
  formatClientCheck,
  formatCpu,
  formatNotes,
  formatRate,
  formatRatios,
  formatTable,
  isReference,
  labeller,
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
import { ROOT, SetupError, type Trio } from './trio.js';
import { warmUp, warmupPlan, type BaseRunOptions, type WarmupResult } from './warmup.js';

export type { BenchIo } from './start-wsq.js';
export { startWsq } from './start-wsq.js';

export interface BenchOutcome {
  exitCode: number;
  results: RunResult[];
  /** The unmeasured warm-ups, one per system (none with --warmup-messages 0). */
  warmups: WarmupResult[];
  /** `--scenario connections`: one result per system. */
  connections?: ConnectionsResult[];
  /** `--client-check`: each reference's extra run with twice the workers (not in `results`). */
  clientChecks?: RunResult[];
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

/** A started deployment: what it is, and its processes. */
interface Started {
  deployment: Deployment;
  id: DeploymentId;
  trio: Trio;
}

function wsqEndpoint(config: BenchConfig, protocol: BenchProtocol, started: Started | undefined): Endpoint {
  const system = protocol === 'v1' ? 'wsq-v1' : 'wsq-legacy';
  const where: Omit<Endpoint, 'system'> = started
    ? {
        deployment: started.id,
        publishUrl: started.trio.publishUrl,
        subscribeUrl: started.trio.subscribeUrl,
        user: started.trio.user,
        password: started.trio.password,
        ca: started.trio.ca,
      }
    : {
        publishUrl: config.publishUrl!,
        subscribeUrl: config.subscribeUrl!,
        user: config.user,
        password: config.password,
        ca: config.ca === undefined ? undefined : readFileSync(config.ca, 'utf8'),
      };
  return system === 'wsq-v1' && config.acks
    ? { system, ...where, acks: true, inFlight: config.inFlight }
    : { system, ...where };
}

/** The V8 profiles in `dir` (and, with several deployments, in its one folder per deployment). */
function profileReport(dir: string, prefix = ''): string {
  if (!existsSync(dir)) return '';
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  return entries
    .flatMap((e) => {
      if (e.isDirectory()) return [profileReport(join(dir, e.name), `${prefix}${e.name}/`)].filter(Boolean);
      if (!e.name.endsWith('.cpuprofile')) return [];
      const profile = JSON.parse(readFileSync(join(dir, e.name), 'utf8')) as CpuProfile;
      return [formatProfileSummary(prefix + basename(e.name, '.cpuprofile'), summarizeProfile(profile))];
    })
    .join('\n');
}

export async function runBench(config: BenchConfig, io: BenchIo): Promise<BenchOutcome> {
  const say = (s: string): unknown => io.stderr.write(s + '\n');
  const needs = natsNeeds(config);
  let natsBinary: string | undefined;
  if (needs.nats) {
    natsBinary = findNatsServer(config.natsServer);
    if (!natsBinary) {
      say(
        `wsq-bench: ${needs.why} needs nats-server on PATH (or --nats-server PATH); e.g. apt-get install nats-server`,
      );
      return { exitCode: 2, results: [], warmups: [] };
    }
  }
  if (config.connections) return runConnections(config, config.connections, io);
  const meta: BenchMeta = {
    startedAt: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    workers: config.workers,
    payloadBytes: config.payloadBytes,
    target: config.target,
    topology: config.topologies.join(','),
    queue: config.queues.join(','),
    inFlight: config.inFlight,
    warmupMessages: config.warmupMessages,
  };
  const results: RunResult[] = [];
  const warmups: WarmupResult[] = [];
  const clientChecks: RunResult[] = [];
  const started: Started[] = [];
  let nats: NatsServer | undefined;
  const runId = randomBytes(3).toString('hex');
  try {
    if (natsBinary && needs.own) {
      nats = await startNatsServer(natsBinary, { jetstream: needs.jetstream });
      meta.natsVersion = nats.version;
      say(
        `started nats-server ${nats.version} (${natsBinary})${nats.jetstream ? ' with JetStream (file store)' : ''}, a TLS WebSocket listener at ${nats.wsUrl}`,
      );
    }
    // One after another: each start-up keeps the CPU busy.
    const several = selfDeployments(config).length > 1;
    for (const deployment of selfDeployments(config)) {
      const id = deploymentId(deployment);
      say(`starting ${describeDeployment(deployment)}…`);
      const more = several && config.profile ? { profileDir: join(config.profile, id) } : {};
      started.push({ deployment, id, trio: await startWsq(config, deployment, { nats, natsBinary }, more) });
    }
    const endpoints =
      config.target === 'self'
        ? started.flatMap((s) => config.protocols.map((p) => wsqEndpoint(config, p, s)))
        : config.protocols.map((p) => wsqEndpoint(config, p, undefined));
    const trioOf = (endpoint: Endpoint): Trio | undefined => started.find((s) => s.id === endpoint.deployment)?.trio;
    for (const reference of config.references) {
      if (reference === 'jetstream') await createBenchStream(nats!);
      endpoints.push(natsEndpoint(nats!, reference, config.inFlight));
    }
    const runOptions = (endpoint: Endpoint): BaseRunOptions => ({
      endpoint,
      workers: config.workers,
      payloadBytes: config.payloadBytes,
      publisherBufferBytes: config.publisherBufferBytes,
      connectConcurrency: config.connectConcurrency,
      idleTimeoutMs: config.idleTimeoutMs,
    });
    const labelOf = labeller(endpoints);
    for (const plan of config.scenarios) {
      // Before each scenario's first measured run, once per system: a run of the same shape.
      const warmup = warmupPlan(plan, config.warmupMessages);
      if (warmup) {
        for (const endpoint of endpoints) {
          warmups.push(await warmUp(runOptions(endpoint), warmup, runId, io.stderr, labelOf(endpoint)));
        }
      }
      const measureOnce = async (endpoint: Endpoint, round: number, workers: number): Promise<RunResult> => {
        const check = workers !== config.workers;
        const label = `${plan.name} ${labelOf(endpoint)}${check ? ` with ${workers} workers` : config.repeat > 1 ? ` #${round}` : ''}`;
        say(`${label}: ${describePlan(plan)}`);
        const bar = createProgress(io.stderr, label);
        const reference = isReference(endpoint.system);
        const trio = trioOf(endpoint);
        const metricsUrls = reference ? [] : (trio?.metricsUrls ?? [endpoint.publishUrl, endpoint.subscribeUrl]);
        const auth =
          endpoint.user === undefined ? undefined : { user: endpoint.user, password: endpoint.password ?? '' };
        const before = await scrapeCounters(metricsUrls, endpoint.ca, auth);
        const pids: Readonly<Record<string, number | undefined>> = reference
          ? { 'nats-server': nats?.pid }
          : (trio?.pids() ?? {});
        // Sampled again when publishing starts, so connection set-up (1 000 TLS handshakes in
        // `topics`) is not counted against the messages.
        let cpuBefore = sampleCpu(pids);
        let result: RunResult;
        try {
          result = await runScenario({
            ...runOptions(endpoint),
            workers,
            plan,
            topicPrefix: `bench.${plan.name}.${endpoint.system}.${runId}.${check ? 'check' : `r${round}`}`,
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
        if (config.repeat > 1 && !check) result.round = round;
        say(
          `${label}: ${formatRate(result.deliveriesPerSec)} deliveries/s, p99 ${result.latency.p99.toFixed(2)} ms, lost ${result.lost}`,
        );
        return result;
      };
      for (let round = 1; round <= config.repeat; round++) {
        for (const endpoint of endpoints) results.push(await measureOnce(endpoint, round, config.workers));
      }
      if (config.clientCheck) {
        for (const endpoint of endpoints.filter((e) => isReference(e.system))) {
          clientChecks.push(await measureOnce(endpoint, 0, config.workers * 2));
        }
      }
    }
  } catch (err) {
    if (!(err instanceof SetupError)) throw err;
    say(`wsq-bench: ${err.message}`);
    return { exitCode: 2, results, warmups };
  } finally {
    for (const { id, trio } of [...started].reverse()) {
      const warnings = Object.entries(trio.warnings()).filter(([, lines]) => lines.length > 0);
      const where = started.length > 1 ? ` (${id})` : '';
      for (const [service, lines] of warnings)
        say(`${service}${where} logged warnings (newest ${lines.length}):\n  ${lines.join('\n  ')}`);
      await trio.stop();
    }
    await nats?.stop();
  }
  const labelOf = labeller(results);
  for (const plan of config.scenarios) {
    const series = results
      .filter((r) => r.scenario === plan.name && (r.round ?? 1) === config.repeat)
      .map((r) => ({
        label: `${labelOf(r)} (p99 ${r.latency.p99.toFixed(2)} ms)`,
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
    formatTable(results) +
    formatRatios(ratios(results), config.repeat > 1) +
    formatCpu(results) +
    formatClientCheck(results, clientChecks, config.workers) +
    formatNotes(results);
  const profile = config.profile ? profileReport(config.profile) : '';
  if (config.json) {
    io.stderr.write(human + profile);
    io.stdout.write(toJson(meta, results, warmups, clientChecks));
  } else {
    io.stdout.write(human + (profile ? '\n' + profile : ''));
  }
  const bad = results.some(
    (r) => !isReference(r.system) && (r.lost > 0 || r.duplicates > 0 || r.unexpected > 0 || unacked(r) > 0),
  );
  return { exitCode: bad ? EXIT_LOSS : 0, results, warmups, clientChecks };
}
