import t from 'tap';
import { resolveValues } from '@wsq/core';
import {
  parseBenchArgs,
  QUICK_WARMUP_MESSAGES,
  SCENARIO_DEFAULTS,
  WARMUP_MESSAGES,
  OPTIONS,
  type BenchConfig,
} from '../src/options.js';
import { distribute, expectedDeliveries, workerExecArgv } from '../src/runner.js';
import { svgPath } from '../src/bench.js';
import { serviceExecArgv } from '../src/trio.js';
import { formatWarmup, warmupPlan, warmupTopicPrefix } from '../src/warmup.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}): BenchConfig {
  const r = parseBenchArgs(argv, env);
  if (r.kind !== 'run') throw new Error(`expected a config, got exit ${r.code}: ${r.output}`);
  return r.config;
}

function exit(argv: string[], env: NodeJS.ProcessEnv = {}): { code: number; output: string } {
  const r = parseBenchArgs(argv, env);
  if (r.kind !== 'exit') throw new Error('expected an exit');
  return r;
}

t.test('defaults: all four scenarios with the issue’s numbers, legacy, self-started, no reference', async (t) => {
  const c = run([]);
  t.same(
    c.scenarios.map((s) => s.name),
    ['pipe', 'fanout', 'topics', 'latency'],
  );
  t.match(c.scenarios[0], { messages: 100_000, subscribers: 1, publishers: 1, topics: 1, ratePerSec: 0 });
  t.match(c.scenarios[1], { messages: 20_000, subscribers: 100, publishers: 1, topics: 1 });
  t.match(c.scenarios[2], { messages: 50_000, subscribers: 1000, publishers: 4, topics: 1000 });
  t.match(c.scenarios[3], { messages: 20_000, subscribers: 100, topics: 10, ratePerSec: 2000 }, '2000/s for 10 s');
  t.match(c, {
    payloadBytes: 64,
    target: 'self',
    references: [],
    json: false,
    repeat: 1,
    topologies: ['trio'],
    queues: ['msgqueue'],
    deployments: [{ topology: 'trio', queue: 'msgqueue' }],
    inFlight: 1000,
  });
  t.same(c.protocols, ['legacy']);
  t.ok(c.workers >= 1);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.scenarios[0]), 'frozen');
});

t.test('--scenario takes a list, in the order given, each scenario once', async (t) => {
  const names = (argv: string[], env: NodeJS.ProcessEnv = {}): string[] => run(argv, env).scenarios.map((s) => s.name);
  t.same(names(['--scenario', 'topics,pipe']), ['topics', 'pipe']);
  t.same(names(['--scenario=latency, fanout ,latency']), ['latency', 'fanout'], 'spaces trimmed, repeats once');
  t.same(names(['--scenario', 'latency,all']), ['latency', 'pipe', 'fanout', 'topics'], 'all adds the rest');
  t.same(names([], { WSQ_SCENARIO: 'fanout,pipe' }), ['fanout', 'pipe'], 'WSQ_SCENARIO');
  const two = run(['--scenario', 'pipe,fanout', '--svg', '/tmp/x/chart.svg']);
  t.equal(svgPath(two, 'fanout'), '/tmp/x/chart-fanout.svg', 'several scenarios: one chart each');
  for (const bad of ['pipe,bogus', ',', 'PIPE']) {
    const e = exit(['--scenario', bad]);
    t.equal(e.code, 2, `${JSON.stringify(bad)}: exit 2`);
    t.match(e.output, /invalid configuration: --scenario: /, `${JSON.stringify(bad)} names the field`);
  }
  t.match(exit(['--scenario', 'pipe,bogus']).output, /got "bogus"/, 'names the bad scenario');
});

t.test('--acks: v1 messages carry ids; needs the v1 protocol', async (t) => {
  t.equal(run([]).acks, false);
  t.equal(run(['--protocol', 'v1', '--acks']).acks, true);
  t.equal(run(['--protocol', 'legacy,v1', '--acks']).acks, true, 'legacy is measured without');
  const e = exit(['--acks']);
  t.equal(e.code, 2);
  t.match(e.output, /invalid configuration: --acks: needs --protocol v1/);
});

t.test('--repeat: runs per scenario and system', async (t) => {
  t.equal(run(['--repeat', '3']).repeat, 3);
});

t.test('flags override a scenario’s numbers; --quick scales them down', async (t) => {
  const c = run(['--scenario', 'fanout', '--messages', '500', '--subscribers', '7', '--protocol', 'v1']);
  t.same(c.scenarios, [{ name: 'fanout', messages: 500, subscribers: 7, publishers: 1, topics: 1, ratePerSec: 0 }]);
  t.same(c.protocols, ['v1']);
  t.same(run(['--protocol', 'legacy,v1,legacy']).protocols, ['legacy', 'v1'], 'both, once each');
  const q = run(['--quick', '--scenario', 'pipe']);
  t.equal(q.scenarios[0].messages, 2000);
  t.ok(q.scenarios[0].messages < SCENARIO_DEFAULTS.pipe.messages);
  t.equal(run(['--scenario', 'latency', '--rate', '100', '--duration-ms', '3000']).scenarios[0].messages, 300);
  t.equal(run(['--scenario', 'latency', '--rate', '100']).scenarios[0].messages, 1000, 'default 10 s');
  t.equal(run(['--scenario', 'pipe', '--rate', '100']).scenarios[0].messages, 100_000, 'paced pipe keeps its count');
  t.equal(run(['--scenario', 'pipe'], { WSQ_MESSAGES: '42' }).scenarios[0].messages, 42, 'WSQ_* env');
  t.same(run(['--subscriber-args', '--max-buffered-bytes,4194304']).serviceArgs.subscriber, [
    '--max-buffered-bytes',
    '4194304',
  ]);
});

t.test('--warmup-messages: 100000 by default, 500 with --quick, from flag, env or file; 0 turns it off', async (t) => {
  t.equal(WARMUP_MESSAGES, 100_000);
  for (const [name, d] of Object.entries(SCENARIO_DEFAULTS))
    t.ok(WARMUP_MESSAGES >= d.messages, `the default warms up with a whole ${name} run`);
  t.equal(run([]).warmupMessages, WARMUP_MESSAGES);
  t.equal(run(['--quick']).warmupMessages, QUICK_WARMUP_MESSAGES);
  t.ok(QUICK_WARMUP_MESSAGES < WARMUP_MESSAGES, '--quick scales it down');
  t.equal(run(['--warmup-messages', '3000']).warmupMessages, 3000);
  t.equal(run(['--quick', '--warmup-messages', '3000']).warmupMessages, 3000, 'a flag beats --quick');
  t.equal(run([], { WSQ_WARMUP_MESSAGES: '7' }).warmupMessages, 7, 'WSQ_WARMUP_MESSAGES');
  t.equal(run(['--warmup-messages', '9'], { WSQ_WARMUP_MESSAGES: '7' }).warmupMessages, 9, 'the flag beats the env');
  t.equal(run(['--warmup-messages', '0']).warmupMessages, 0);
  const latency = {
    name: 'latency',
    messages: 20_000,
    subscribers: 100,
    publishers: 1,
    topics: 10,
    ratePerSec: 2000,
  } as const;
  t.equal(warmupPlan(latency, 0), undefined, '0: no warm-up run');
  t.same(warmupPlan(latency, 1234), { ...latency, messages: 1234 }, "the scenario's shape and rate, fewer messages");
  t.same(warmupPlan({ ...latency, messages: 3000 }, 20_000), { ...latency, messages: 3000 }, 'at most the scenario');
  t.match(exit(['--help']).output, /--warmup-messages <value>\s+unmeasured run of each scenario's shape/);
  for (const bad of ['-1', '1.5', 'many', '']) {
    const e = exit([], { WSQ_WARMUP_MESSAGES: bad });
    t.equal(e.code, 2, `WSQ_WARMUP_MESSAGES=${JSON.stringify(bad)}`);
    t.match(e.output, /invalid configuration: WSQ_WARMUP_MESSAGES: /, `${JSON.stringify(bad)} names the variable`);
  }
  t.equal(exit(['--warmup-messages=-5']).code, 2, 'a negative flag');
  for (const bad of ['-1', 'x']) {
    t.throws(
      () => resolveValues(OPTIONS, {}, { WSQ_WARMUP_MESSAGES: bad }, {}),
      { name: 'ConfigError', code: 'BAD_CONFIG', field: 'warmupMessages' },
      `${bad}: a ConfigError for warmupMessages`,
    );
  }
  t.throws(
    () => resolveValues(OPTIONS, {}, {}, { warmupMessages: 2.5 }),
    { name: 'ConfigError', code: 'BAD_CONFIG', field: 'warmupMessages' },
    'a fraction in the --config file',
  );
});

t.test('a warm-up has topics of its own and reports itself as not measured', async (t) => {
  const names = Object.keys(SCENARIO_DEFAULTS) as (keyof typeof SCENARIO_DEFAULTS)[];
  const prefixes = new Set(names.map((name) => warmupTopicPrefix(name, 'wsq-legacy', 'abc123')));
  t.equal(prefixes.size, names.length, "each scenario's warm-up has topics of its own");
  for (const prefix of prefixes)
    for (const name of names) t.notOk(prefix.startsWith(`bench.${name}.`), `not a ${name} run's topics`);
  const base = {
    scenario: 'pipe' as const,
    system: 'wsq-legacy' as const,
    messages: 20_000,
    deliveries: 20_000,
    durationMs: 300,
  };
  const ok = formatWarmup({ ...base, deliveriesPerSec: 61_000.4, lost: 0, duplicates: 0, unexpected: 0 });
  t.equal(ok, 'warm-up pipe wsq legacy: 20000 messages, 61,000 deliveries/s (not measured)\n');
  const lossy = formatWarmup({ ...base, system: 'nats', deliveriesPerSec: 1, lost: 3, duplicates: 0, unexpected: 0 });
  t.match(
    lossy,
    /^warm-up pipe NATS: .*\nwarning: warm-up pipe NATS lost 3, duplicated 0 and misrouted 0 of 20000 messages/,
  );
});

t.test('bad options exit 2 naming the field', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--scenario', 'nope'], /scenario/],
    [['--protocol', 'v2'], /protocol/],
    [['--protocol', 'legacy,v2'], /protocol/],
    [['--protocol', ''], /protocol/],
    [['--payload-bytes', '8'], /--payload-bytes/],
    [['--messages', '0'], /messages/],
    [['--target', 'urls'], /--publish-url/],
    [['--target', 'urls', '--publish-url', 'wss://h/publish', '--subscribe-url', 'http://h/s'], /--subscribe-url/],
    [['--user', 'u'], /password/],
    [['--scenario', 'topics', '--publishers', '10', '--messages', '5'], /publishers/],
    [['--profile', 'x', '--target', 'urls', '--publish-url', 'wss://a/p', '--subscribe-url', 'wss://a/s'], /profile/],
    [
      [
        '--service-node-args=--trace-gc',
        '--target',
        'urls',
        '--publish-url',
        'wss://a/p',
        '--subscribe-url',
        'wss://a/s',
      ],
      /--service-node-args/,
    ],
    [['--bogus'], /unknown option/],
    [['--repeat', '0'], /repeat/],
  ];
  for (const [argv, field] of cases) {
    const e = exit(argv);
    t.equal(e.code, 2, argv.join(' '));
    t.match(e.output, field, argv.join(' '));
  }
  t.equal(exit(['--help']).code, 0);
  t.match(exit(['--help']).output, /--reference/);
  const printed = exit(['--print-config', '--user', 'u', '--password', 'secret']).output;
  t.notMatch(printed, /secret/, '--print-config masks the password');
});

t.test('work is spread over workers: subscribers from the first, publishers from the last', async (t) => {
  const pipe = run(['--scenario', 'pipe']).scenarios[0];
  t.same(distribute(pipe, 4), [
    { subscribers: [0], publishers: [] },
    { subscribers: [], publishers: [0] },
  ]);
  t.same(distribute(pipe, 1), [{ subscribers: [0], publishers: [0] }]);
  const topics = run(['--scenario', 'topics', '--subscribers', '10', '--publishers', '3']).scenarios[0];
  const shares = distribute(topics, 3);
  t.same(
    shares.map((s) => s.subscribers.length),
    [4, 3, 3],
  );
  t.same(shares.flatMap((s) => s.publishers).sort(), [0, 1, 2]);
});

t.test('expected deliveries follow message i → topic i % topics, subscriber s → topic s % topics', async (t) => {
  const plan = { name: 'topics' as const, messages: 10, subscribers: 4, publishers: 1, topics: 3, ratePerSec: 0 };
  // topic 0 gets 0,3,6,9 (4); topic 1: 1,4,7 (3); topic 2: 2,5,8 (3); subscribers 0..3 → topics 0,1,2,0
  t.equal(expectedDeliveries(plan), 4 + 3 + 3 + 4);
  t.equal(
    expectedDeliveries({ ...plan, messages: 2, topics: 5, subscribers: 5 }),
    2,
    'topics past the last message get none',
  );
});

t.test('chart paths', async (t) => {
  t.match(svgPath(run(['--scenario', 'pipe']), 'pipe'), /bench\/results\/latency-pipe\.svg$/);
  t.equal(svgPath(run(['--scenario', 'pipe', '--svg', '/tmp/a.svg']), 'pipe'), '/tmp/a.svg');
  t.equal(svgPath(run(['--svg', '/tmp/a.svg']), 'fanout'), '/tmp/a-fanout.svg', 'one file per scenario');
});

t.test('the self-started services get --service-node-args after the profile flags', async (t) => {
  const config = run(['--service-node-args=--perf-basic-prof,--max-semi-space-size=32']);
  t.same(config.serviceNodeArgs, ['--perf-basic-prof', '--max-semi-space-size=32']);
  t.same(run([]).serviceNodeArgs, [], 'none by default');
  t.same(serviceExecArgv('msgqueue', { nodeArgs: config.serviceNodeArgs }), [
    '--perf-basic-prof',
    '--max-semi-space-size=32',
  ]);
  t.same(serviceExecArgv('publisher', { profileDir: '/p', nodeArgs: ['--trace-gc'] }), [
    '--cpu-prof',
    '--cpu-prof-dir=/p',
    '--cpu-prof-name=publisher.cpuprofile',
    '--trace-gc',
  ]);
  t.same(serviceExecArgv('subscriber', {}), []);
});

t.test('workers get the node flags minus module hooks (a test runner’s loaders)', async (t) => {
  t.same(
    workerExecArgv([
      '--import=file:///x.mjs',
      '--cpu-prof',
      '--require',
      'y.cjs',
      '--enable-source-maps',
      '--max-old-space-size=512',
    ]),
    ['--cpu-prof', '--max-old-space-size=512'],
  );
  t.same(workerExecArgv([]), []);
});

t.test('--reference: a list of nats and jetstream, none alone', async (t) => {
  t.same(run([]).references, []);
  t.same(run(['--reference', 'none']).references, []);
  t.same(run(['--reference', 'nats,jetstream']).references, ['nats', 'jetstream']);
  t.same(run(['--reference', 'jetstream,jetstream']).references, ['jetstream'], 'each once');
  t.match(exit(['--reference', 'kafka']), { code: 2, output: /reference/ });
  t.match(exit(['--reference', 'none,nats']), { code: 2, output: /none goes alone/ });
  t.equal(run(['--in-flight', '50']).inFlight, 50);
  t.equal(run(['--in-flight', '0']).inFlight, 0, '0: no bound');
  t.equal(run(['--client-check']).clientCheck, true);
  t.equal(run([]).clientCheck, false);
});

t.test('--topology and --queue: what the bench starts', async (t) => {
  t.match(run(['--topology', 'server']), {
    topologies: ['server'],
    queues: ['msgqueue'],
    deployments: [{ topology: 'server' }],
  });
  t.match(run(['--queue', 'jetstream']), {
    topologies: ['trio'],
    queues: ['jetstream'],
    deployments: [{ topology: 'trio', queue: 'jetstream' }],
  });
  t.match(exit(['--topology', 'cluster']), { code: 2, output: /topology/ });
  t.match(exit(['--queue', 'jetstream', '--topology', 'server']), {
    code: 2,
    output: /needs --target self --topology trio/,
  });
  const urls = ['--target', 'urls', '--publish-url', 'wss://h/publish', '--subscribe-url', 'wss://h/subscribe'];
  t.match(exit([...urls, '--topology', 'server']), { code: 2, output: /topology/ });
  t.match(exit([...urls, '--queue', 'jetstream']), { code: 2, output: /queue/ });
  t.same(run(urls).deployments, [{ topology: 'trio', queue: 'msgqueue' }], 'urls: the default, never started');
});

t.test('--topology and --queue take lists: one deployment per trio home, one wsq-server', async (t) => {
  const c = run(['--topology', 'trio,server', '--queue', 'msgqueue, jetstream,jetstream-r3']);
  t.same(c.topologies, ['trio', 'server']);
  t.same(c.queues, ['msgqueue', 'jetstream', 'jetstream-r3']);
  t.same(c.deployments, [
    { topology: 'trio', queue: 'msgqueue' },
    { topology: 'trio', queue: 'jetstream' },
    { topology: 'trio', queue: 'jetstream-r3' },
    { topology: 'server' },
  ]);
  t.ok(Object.isFrozen(c.deployments) && Object.isFrozen(c.deployments[0]), 'frozen');
  t.same(run(['--topology', 'server,trio', '--queue', 'jetstream-r3']).deployments, [
    { topology: 'server' },
    { topology: 'trio', queue: 'jetstream-r3' },
  ]);
  t.same(
    run(['--queue', 'jetstream,msgqueue,jetstream']).deployments,
    [
      { topology: 'trio', queue: 'jetstream' },
      { topology: 'trio', queue: 'msgqueue' },
    ],
    'in the order given, each once',
  );
  t.same(run(['--topology=trio,trio,server']).topologies, ['trio', 'server']);
  t.same(run([], { WSQ_QUEUE: 'msgqueue,jetstream-r3' }).queues, ['msgqueue', 'jetstream-r3'], 'WSQ_QUEUE');
  const bad = (argv: string[], key: string, output: RegExp): void => {
    const r = exit(argv);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.output, output, argv.join(' '));
    t.match(r.output, key, argv.join(' '));
  };
  bad(['--queue', 'jetstream,kafka'], 'queue', /msgqueue, jetstream, jetstream-r3 .*"kafka"/);
  bad(['--topology', 'trio,cluster'], 'topology', /trio, server .*"cluster"/);
  bad(['--queue', ','], 'queue', /needs one of/);
  bad(['--topology', 'server', '--queue', 'msgqueue,jetstream-r3'], 'queue', /needs --target self --topology trio/);
  bad(['--topology', 'server', '--queue', 'jetstream-r3'], 'queue', /wsq-server keeps its queue inside/);
  bad(['--scenario', 'connections', '--topology', 'trio,server'], 'scenario', /one wsq deployment/);
  bad(['--scenario', 'connections', '--queue', 'msgqueue,jetstream'], 'scenario', /one wsq deployment/);
  t.same(run(['--scenario', 'connections', '--queue', 'jetstream-r3']).deployments, [
    { topology: 'trio', queue: 'jetstream-r3' },
  ]);
});

t.test('--scenario connections: alone, self-started, its own numbers', async (t) => {
  const c = run(['--scenario', 'connections']);
  t.same(c.scenarios, [], 'no message scenario');
  t.match(c.connections, {
    connections: 10_000,
    processes: 2,
    sourceAddresses: 1,
    pingIntervalMs: 5000,
    idleMs: 10_000,
  });
  t.match(run(['--scenario', 'connections', '--quick']).connections, { connections: 200, idleMs: 1000 });
  t.match(run(['--scenario', 'connections', '--connections', '100000']).connections, {
    connections: 100_000,
    processes: 8,
    sourceAddresses: 5,
  });
  t.match(
    run(['--scenario', 'connections', '--connections', '10', '--connection-processes', '3', '--idle-ms', '300'])
      .connections,
    { processes: 3, idleMs: 300 },
  );
  t.match(exit(['--scenario', 'connections', '--connections', '100001']), { code: 2, output: /connections/ });
  t.match(exit(['--scenario', 'connections,pipe']), { code: 2, output: /connections runs alone/ });
  t.match(exit(['--scenario', 'connections', '--reference', 'jetstream']), { code: 2, output: /nats only/ });
  t.same(run(['--scenario', 'connections', '--reference', 'nats']).references, ['nats']);
  t.match(exit(['--scenario', 'connections', '--connections', '2', '--connection-processes', '3']), { code: 2 });
  t.same(
    run([]).scenarios.map((s) => s.name),
    ['pipe', 'fanout', 'topics', 'latency'],
    'all leaves connections out',
  );
});
