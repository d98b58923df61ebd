/**
 * wsq-bench's options (core's loadConfig: flags > WSQ_* env > --config JSON > defaults) and
 * the scenario table. Scenario numbers default per scenario; a flag overrides that number in
 * every scenario run. `--quick` scales the defaults down for a smoke run.
 */
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig, printableConfig, type ConfigValues, type OptionSpec } from '@wsq/core';
import { planDeployments, type Deployment, type QueueHome, type Topology } from './deployments.js';
import { MIN_PAYLOAD_BYTES } from './payload.js';

export { QUEUE_HOMES, TOPOLOGIES, type Deployment, type QueueHome, type Topology } from './deployments.js';

export const SCENARIOS = ['pipe', 'fanout', 'topics', 'latency'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/** Scenarios `all` leaves out: `connections` measures idle connections, not messages, and takes minutes at scale. */
export const OTHER_SCENARIOS = ['connections'] as const;
export const REFERENCES = ['nats', 'jetstream'] as const;
export type ReferenceName = (typeof REFERENCES)[number];

/** The `connections` scenario's numbers. */
export interface ConnectionsPlan {
  /** Idle v1 subscriptions to open on one subscriber. */
  readonly connections: number;
  /** Client processes the connections are spread over. */
  readonly processes: number;
  /** Loopback source addresses (127.0.0.2, 127.0.0.3, …) the connections are spread over. */
  readonly sourceAddresses: number;
  /** The subscriber's --ping-interval-ms during the scenario. */
  readonly pingIntervalMs: number;
  /** How long the idle CPU is measured. */
  readonly idleMs: number;
  /** Give up on connecting after this long. */
  readonly connectTimeoutMs: number;
}

/** Connections per source address: well under the 28 232 ports of Linux's default ephemeral range. */
export const CONNECTIONS_PER_SOURCE = 20_000;
/** Connections per client process: each holds one descriptor per connection, under a 20 000 hard limit. */
export const CONNECTIONS_PER_PROCESS = 12_500;
export const MAX_CONNECTIONS = 100_000;
export const PROTOCOLS = ['legacy', 'v1'] as const;
export type BenchProtocol = (typeof PROTOCOLS)[number];

/** One scenario's numbers. Message i goes to topic i % topics; subscriber s listens on s % topics. */
export interface ScenarioPlan {
  readonly name: ScenarioName;
  readonly messages: number;
  readonly subscribers: number;
  readonly publishers: number;
  readonly topics: number;
  /** Messages per second over all publishers; 0: as fast as flow control allows. */
  readonly ratePerSec: number;
}

interface ScenarioDefaults {
  messages: number;
  subscribers: number;
  publishers: number;
  topics: number;
  ratePerSec: number;
  durationMs: number;
}

export const SCENARIO_DEFAULTS: Readonly<Record<ScenarioName, Readonly<ScenarioDefaults>>> = {
  pipe: { messages: 100_000, subscribers: 1, publishers: 1, topics: 1, ratePerSec: 0, durationMs: 0 },
  fanout: { messages: 20_000, subscribers: 100, publishers: 1, topics: 1, ratePerSec: 0, durationMs: 0 },
  topics: { messages: 50_000, subscribers: 1000, publishers: 4, topics: 1000, ratePerSec: 0, durationMs: 0 },
  latency: { messages: 20_000, subscribers: 100, publishers: 1, topics: 10, ratePerSec: 2000, durationMs: 10_000 },
};

export const QUICK_DEFAULTS: Readonly<Record<ScenarioName, Readonly<ScenarioDefaults>>> = {
  pipe: { messages: 2000, subscribers: 1, publishers: 1, topics: 1, ratePerSec: 0, durationMs: 0 },
  fanout: { messages: 2000, subscribers: 10, publishers: 1, topics: 1, ratePerSec: 0, durationMs: 0 },
  topics: { messages: 2000, subscribers: 50, publishers: 2, topics: 50, ratePerSec: 0, durationMs: 0 },
  latency: { messages: 1000, subscribers: 10, publishers: 1, topics: 5, ratePerSec: 500, durationMs: 2000 },
};

/** Unmeasured messages through each system before its first measured run (`--warmup-messages`). */
/** At least every scenario's own count by default, so each warm-up is a whole unmeasured run of its scenario. */
export const WARMUP_MESSAGES = 100_000;
export const QUICK_WARMUP_MESSAGES = 500;

export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'scenario',
    type: 'list',
    default: ['all'],
    help: `scenarios to run, comma-separated, in order: ${SCENARIOS.join(', ')}, or all (${SCENARIOS.join(', ')}); connections runs alone`,
  },
  {
    key: 'connections',
    type: 'int',
    default: undefined,
    min: 1,
    max: MAX_CONNECTIONS,
    unit: 'connections',
    help: 'connections scenario: idle v1 subscriptions to open (default 10000, 200 with --quick)',
  },
  {
    key: 'connectionProcesses',
    type: 'int',
    default: undefined,
    min: 1,
    max: 64,
    help: `connections scenario: client processes (default one per ${CONNECTIONS_PER_PROCESS} connections, at least 2)`,
  },
  {
    key: 'pingIntervalMs',
    type: 'int',
    default: 5000,
    min: 100,
    unit: 'ms',
    help: "connections scenario: the subscriber's --ping-interval-ms (heartbeats while idle)",
  },
  {
    key: 'idleMs',
    type: 'int',
    default: undefined,
    min: 100,
    unit: 'ms',
    help: 'connections scenario: how long the idle CPU is measured (default 2 ping intervals, 1000 with --quick)',
  },
  { key: 'messages', type: 'int', default: undefined, min: 1, unit: 'messages', help: 'messages published in all' },
  { key: 'subscribers', type: 'int', default: undefined, min: 1, unit: 'connections', help: 'subscriber connections' },
  { key: 'publishers', type: 'int', default: undefined, min: 1, unit: 'connections', help: 'publisher connections' },
  { key: 'topics', type: 'int', default: undefined, min: 1, unit: 'topics', help: 'distinct topics' },
  {
    key: 'rate',
    type: 'int',
    default: undefined,
    min: 0,
    unit: 'messages/s',
    help: 'publish rate (0: as fast as possible)',
  },
  { key: 'durationMs', type: 'int', default: undefined, min: 1, unit: 'ms', help: 'with --rate: how long to publish' },
  {
    key: 'warmupMessages',
    type: 'int',
    default: undefined,
    min: 0,
    unit: 'messages',
    help: `unmeasured run of each scenario's shape through each system before its first measured run of it, at most the scenario's messages (default ${WARMUP_MESSAGES}, ${QUICK_WARMUP_MESSAGES} with --quick; 0: none)`,
  },
  {
    key: 'payloadBytes',
    type: 'int',
    default: 64,
    min: MIN_PAYLOAD_BYTES,
    max: 60_000,
    unit: 'bytes',
    help: 'message payload size',
  },
  {
    key: 'protocol',
    type: 'list',
    default: ['legacy'],
    help: 'wsq client protocol: legacy, v1, or legacy,v1 for both in one run',
  },
  {
    key: 'acks',
    type: 'bool',
    default: false,
    help: 'wsq.v1 publishers put an id on every message and count the acks (the acknowledged path); needs --protocol v1',
  },
  {
    key: 'inFlight',
    type: 'int',
    default: 1000,
    min: 0,
    unit: 'messages',
    help: 'with --acks and for JetStream: unacknowledged messages a publisher allows (0: no bound)',
  },
  { key: 'workers', type: 'int', default: availableParallelism(), min: 1, max: 256, help: 'client worker threads' },
  {
    key: 'clientCheck',
    type: 'bool',
    default: false,
    help: 'after each scenario, run every reference once more with twice the client workers: if its figures rise, the clients were what limited it',
  },
  {
    key: 'topology',
    type: 'list',
    default: ['trio'],
    help: 'with --target self: trio (msgqueue, publisher, subscriber), server (the single-process wsq-server), or trio,server for both in one run',
  },
  {
    key: 'queue',
    type: 'list',
    default: ['msgqueue'],
    help: "with --topology trio: the queue's homes, comma-separated, the trio measured on each: msgqueue, jetstream (R1 on the bench's own nats-server -js), jetstream-r3 (three replicas on a three-node nats-server cluster on loopback)",
  },
  {
    key: 'repeat',
    type: 'int',
    default: 1,
    min: 1,
    max: 100,
    help: 'run each scenario this many times, the systems taking turns; the ratios compare medians',
  },
  { key: 'target', type: 'string', default: 'self', choices: ['self', 'urls'], help: 'start the trio, or use --*-url' },
  { key: 'publishUrl', type: 'string', default: undefined, help: 'with --target urls: wss://…/publish' },
  { key: 'subscribeUrl', type: 'string', default: undefined, help: 'with --target urls: wss://…/subscribe' },
  { key: 'user', type: 'string', default: undefined, help: 'with --target urls: Basic Auth user' },
  {
    key: 'password',
    type: 'string',
    default: undefined,
    secret: true,
    help: 'with --target urls: Basic Auth password',
  },
  { key: 'ca', type: 'string', default: undefined, help: 'with --target urls: CA certificate (PEM) to trust' },
  {
    key: 'reference',
    type: 'list',
    default: ['none'],
    help: 'also measure references, comma-separated: nats (NATS core), jetstream (PubAck on a file stream), or none',
  },
  { key: 'natsServer', type: 'string', default: undefined, help: 'nats-server binary (default: PATH, /usr/sbin)' },
  { key: 'json', type: 'bool', default: false, help: 'print results as JSON on stdout (the table goes to stderr)' },
  {
    key: 'svg',
    type: 'string',
    default: undefined,
    help: 'latency chart file (default bench/results/latency-<scenario>.svg; with several scenarios -<scenario> is added)',
  },
  { key: 'quick', type: 'bool', default: false, help: 'scaled-down numbers for a smoke run' },
  {
    key: 'idleTimeoutMs',
    type: 'int',
    default: 10_000,
    min: 100,
    unit: 'ms',
    help: 'after publishing, give up waiting for deliveries after this long without progress',
  },
  {
    key: 'publisherBufferBytes',
    type: 'int',
    default: 64 * 1024,
    min: 1024,
    unit: 'bytes',
    help: 'unsent bytes a publisher allows before it waits for its socket to drain',
  },
  {
    key: 'connectConcurrency',
    type: 'int',
    default: 50,
    min: 1,
    unit: 'connections',
    help: 'TLS handshakes in flight per worker while connecting',
  },
  { key: 'profile', type: 'string', default: undefined, help: 'write the trio’s V8 CPU profiles into this directory' },
  {
    key: 'msgqueueArgs',
    type: 'list',
    default: [],
    help: 'extra flags for the self-started msgqueue (comma-separated)',
  },
  { key: 'publisherArgs', type: 'list', default: [], help: 'extra flags for the self-started publisher' },
  {
    key: 'serviceNodeArgs',
    type: 'list',
    default: [],
    help: 'Node.js flags for the three self-started services, e.g. --perf-basic-prof for perf, --trace-gc',
  },
  { key: 'subscriberArgs', type: 'list', default: [], help: 'extra flags for the self-started subscriber' },
];

export interface BenchConfig {
  readonly scenarios: readonly ScenarioPlan[];
  readonly payloadBytes: number;
  /** wsq protocols to measure, each a system of its own in the results. */
  readonly protocols: readonly BenchProtocol[];
  /** wsq.v1 messages carry ids and their acks are counted (--acks). */
  readonly acks: boolean;
  /** Unanswered messages an acknowledged publisher allows (--in-flight; 0: no bound). */
  readonly inFlight: number;
  readonly workers: number;
  /** --client-check: one more run per reference and scenario with 2 × workers. */
  readonly clientCheck: boolean;
  /** --topology, each once, in order. */
  readonly topologies: readonly Topology[];
  /** --queue, each once, in order (the trio's homes). */
  readonly queues: readonly QueueHome[];
  /** The wsq deployments to start (with --target self): each, with each protocol, a system of the run. */
  readonly deployments: readonly Deployment[];
  /** `--scenario connections`: its numbers (then `scenarios` is empty). */
  readonly connections: ConnectionsPlan | undefined;
  /** Runs per scenario and system (the systems take turns). */
  readonly repeat: number;
  /** Messages of the unmeasured warm-up run through each system, once per bench run; 0: none. */
  readonly warmupMessages: number;
  readonly target: 'self' | 'urls';
  readonly publishUrl: string | undefined;
  readonly subscribeUrl: string | undefined;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly ca: string | undefined;
  /** References to measure, in order (empty: none). */
  readonly references: readonly ReferenceName[];
  readonly natsServer: string | undefined;
  readonly json: boolean;
  readonly svg: string | undefined;
  readonly idleTimeoutMs: number;
  readonly publisherBufferBytes: number;
  readonly connectConcurrency: number;
  readonly profile: string | undefined;
  readonly serviceArgs: Readonly<Record<'msgqueue' | 'publisher' | 'subscriber', readonly string[]>>;
  /** Node.js flags for the self-started services (NODE_OPTIONS is not passed on to them). */
  readonly serviceNodeArgs: readonly string[];
}

function opt<T>(v: unknown): T | undefined {
  return v === undefined ? undefined : (v as T);
}

/** The numbers of one scenario after --quick and the per-number flags. */
export function planScenario(name: ScenarioName, values: Readonly<Record<string, unknown>>): ScenarioPlan {
  const d = (values.quick === true ? QUICK_DEFAULTS : SCENARIO_DEFAULTS)[name];
  const ratePerSec = opt<number>(values.rate) ?? d.ratePerSec;
  const durationMs = opt<number>(values.durationMs) ?? d.durationMs;
  let messages = opt<number>(values.messages);
  if (messages === undefined) {
    messages = ratePerSec > 0 && durationMs > 0 ? Math.round((ratePerSec * durationMs) / 1000) : d.messages;
  }
  const plan: ScenarioPlan = {
    name,
    messages,
    subscribers: opt<number>(values.subscribers) ?? d.subscribers,
    publishers: opt<number>(values.publishers) ?? d.publishers,
    topics: opt<number>(values.topics) ?? d.topics,
    ratePerSec,
  };
  if (plan.messages < 1) throw new ConfigError('durationMs', 'rate × duration gives no message');
  if (plan.publishers > plan.messages) throw new ConfigError('publishers', 'more publishers than messages');
  return Object.freeze(plan);
}

/** Cross-field checks on the resolved values (run inside loadConfig so errors exit 2). */
export function finishBenchOptions(values: Record<string, unknown>): void {
  if (values.target === 'urls') {
    for (const key of ['publishUrl', 'subscribeUrl'] as const) {
      const url = values[key];
      if (typeof url !== 'string') throw new ConfigError(key, 'is required with --target urls');
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new ConfigError(key, `not a URL: ${JSON.stringify(url)}`);
      }
      if (parsed.protocol !== 'wss:' && parsed.protocol !== 'ws:') throw new ConfigError(key, 'must be a ws(s):// URL');
    }
  }
  const protocols = values.protocol as string[];
  if (protocols.length === 0) throw new ConfigError('protocol', `needs one of ${PROTOCOLS.join(', ')}`);
  for (const p of protocols) {
    if (!(PROTOCOLS as readonly string[]).includes(p)) {
      throw new ConfigError('protocol', `must be ${PROTOCOLS.join(' or ')} (or both), got ${JSON.stringify(p)}`);
    }
  }
  if (values.acks === true && !protocols.includes('v1')) {
    throw new ConfigError('acks', 'needs --protocol v1 (legacy publishers get no acks)');
  }
  if ((values.user === undefined) !== (values.password === undefined)) {
    throw new ConfigError(values.user === undefined ? 'user' : 'password', 'user and password go together');
  }
  if (values.profile !== undefined && values.target !== 'self') {
    throw new ConfigError('profile', 'needs --target self (it profiles the started trio)');
  }
  if ((values.serviceNodeArgs as string[]).length > 0 && values.target !== 'self') {
    throw new ConfigError('serviceNodeArgs', 'needs --target self (they are flags of the started trio)');
  }
  const references = values.reference as string[];
  for (const r of references) {
    if (r !== 'none' && !(REFERENCES as readonly string[]).includes(r)) {
      throw new ConfigError(
        'reference',
        `must be none or ${REFERENCES.join(', ')} (comma-separated), got ${JSON.stringify(r)}`,
      );
    }
  }
  if (references.includes('none') && references.length > 1) throw new ConfigError('reference', 'none goes alone');
  const topologies = values.topology as string[];
  const queues = values.queue as string[];
  if (values.target !== 'self' && (topologies.length !== 1 || topologies[0] !== 'trio')) {
    throw new ConfigError('topology', 'needs --target self (it chooses what the bench starts)');
  }
  if (values.target !== 'self' && (queues.length !== 1 || queues[0] !== 'msgqueue')) {
    throw new ConfigError('queue', `--queue ${queues.join(',')} needs --target self --topology trio`);
  }
  const deployments = planDeployments(topologies, queues);
  if ((values.scenario as string[]).includes('connections')) {
    if ((values.scenario as string[]).length > 1) throw new ConfigError('scenario', 'connections runs alone');
    if (values.target !== 'self') throw new ConfigError('scenario', 'connections needs --target self');
    if (deployments.length > 1) {
      throw new ConfigError('scenario', 'connections measures one wsq deployment (one --topology, one --queue)');
    }
    if (references.includes('jetstream')) {
      throw new ConfigError(
        'reference',
        'connections compares with nats only (idle connections are the same for JetStream)',
      );
    }
    planConnections(values);
    return;
  }
  for (const name of scenarioNames(values)) planScenario(name, values);
}

/** `--scenario connections`'s numbers after --quick and the flags. */
export function planConnections(values: Readonly<Record<string, unknown>>): ConnectionsPlan {
  const quick = values.quick === true;
  const connections = opt<number>(values.connections) ?? (quick ? 200 : 10_000);
  const pingIntervalMs = values.pingIntervalMs as number;
  const processes =
    opt<number>(values.connectionProcesses) ?? Math.max(2, Math.ceil(connections / CONNECTIONS_PER_PROCESS));
  if (processes > connections) throw new ConfigError('connectionProcesses', 'more client processes than connections');
  return Object.freeze({
    connections,
    processes,
    sourceAddresses: Math.max(1, Math.ceil(connections / CONNECTIONS_PER_SOURCE)),
    pingIntervalMs,
    idleMs: opt<number>(values.idleMs) ?? (quick ? 1000 : 2 * pingIntervalMs),
    // 20 ms a connection: 50 accepts a second, a busy two-core host’s worst seen; 100 000 give up after 33 min.
    connectTimeoutMs: Math.max(60_000, connections * 20),
  });
}

/** `--scenario`'s list, in the order given, `all` standing for every scenario, each name once. */
function scenarioNames(values: Readonly<Record<string, unknown>>): ScenarioName[] {
  const given = values.scenario as string[];
  if (given.length === 0) throw new ConfigError('scenario', `needs one of ${SCENARIOS.join(', ')}, all`);
  const names = new Set<ScenarioName>();
  for (const name of given) {
    if (name === 'all') SCENARIOS.forEach((n) => names.add(n));
    else if ((SCENARIOS as readonly string[]).includes(name)) names.add(name as ScenarioName);
    else throw new ConfigError('scenario', `must be one of ${SCENARIOS.join(', ')}, all, got ${JSON.stringify(name)}`);
  }
  return [...names];
}

export function toBenchConfig(values: ConfigValues): BenchConfig {
  const connections = (values.scenario as string[]).includes('connections') ? planConnections(values) : undefined;
  return Object.freeze({
    scenarios: Object.freeze(connections ? [] : scenarioNames(values).map((n) => planScenario(n, values))),
    connections,
    inFlight: values.inFlight as number,
    clientCheck: values.clientCheck === true,
    topologies: Object.freeze([...new Set(values.topology as Topology[])]),
    queues: Object.freeze([...new Set(values.queue as QueueHome[])]),
    deployments: Object.freeze(
      planDeployments(values.topology as string[], values.queue as string[]).map((d) => Object.freeze(d)),
    ),
    payloadBytes: values.payloadBytes as number,
    protocols: Object.freeze([...new Set(values.protocol as BenchProtocol[])]),
    acks: values.acks === true,
    workers: values.workers as number,
    repeat: values.repeat as number,
    warmupMessages:
      opt<number>(values.warmupMessages) ?? (values.quick === true ? QUICK_WARMUP_MESSAGES : WARMUP_MESSAGES),
    target: values.target as 'self' | 'urls',
    publishUrl: opt<string>(values.publishUrl),
    subscribeUrl: opt<string>(values.subscribeUrl),
    user: opt<string>(values.user),
    password: opt<string>(values.password),
    ca: opt<string>(values.ca),
    references: Object.freeze(
      [...new Set(values.reference as string[])].filter((r): r is ReferenceName => r !== 'none'),
    ),
    natsServer: opt<string>(values.natsServer),
    json: values.json === true,
    svg: opt<string>(values.svg),
    idleTimeoutMs: values.idleTimeoutMs as number,
    publisherBufferBytes: values.publisherBufferBytes as number,
    connectConcurrency: values.connectConcurrency as number,
    profile: opt<string>(values.profile),
    serviceArgs: Object.freeze({
      msgqueue: Object.freeze([...(values.msgqueueArgs as string[])]),
      publisher: Object.freeze([...(values.publisherArgs as string[])]),
      subscriber: Object.freeze([...(values.subscriberArgs as string[])]),
    }),
    serviceNodeArgs: Object.freeze([...(values.serviceNodeArgs as string[])]),
  });
}

export type ParseResult = { kind: 'run'; config: BenchConfig } | { kind: 'exit'; code: number; output: string };

/** Parses the command line; never exits (main does), so tests call it directly. */
export function parseBenchArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParseResult {
  const loaded = loadConfig(OPTIONS, {
    service: 'bench',
    description:
      'Load generator for wsq (legacy or wsq.v1) over TLS WebSockets, optionally against a NATS reference in the same run.',
    argv,
    env,
    finish: finishBenchOptions,
  });
  if (loaded.kind === 'exit') return loaded;
  if (loaded.printConfig) {
    return { kind: 'exit', code: 0, output: printableConfig(OPTIONS, loaded.config) };
  }
  return { kind: 'run', config: toBenchConfig(loaded.config) };
}
