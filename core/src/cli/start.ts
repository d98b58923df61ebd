/**
 * `npm start`: the three services as separate processes on one machine, for trying wsq out.
 * Generates certs/ when it holds no server certificate, runs msgqueue, publisher and
 * subscriber with --demo (user hello / password test), prefixes and pretty-prints their logs,
 * and stops all three on Ctrl-C / SIGTERM. If one dies, the others are stopped (exit 1).
 * Publisher and subscriber start once the msgqueue listens, so their links connect at once.
 * A busy port is answered with the --base-port advice.
 *
 *   npm start                                   ports 8080 8081 8082, certs in ./certs
 *   npm start -- --base-port 9000               ports 9000 9001 9002
 *   npm start -- --publisher-port 7001 …        one port at a time (env WSQ_PUBLISHER_PORT …)
 *   npm start -- -- --log-level debug           words after a second `--` go to all three
 *
 * Service-specific settings also pass through the environment: every service reads only its
 * own WSQ_* variables (e.g. WSQ_FSYNC=always reaches the msgqueue alone).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, printableConfig, type OptionSpec } from '../config/config.js';
import { ConfigError } from '../protocol/errors.js';
import { DEMO_PASSWORD, DEMO_USER } from '../config/options.js';
import { supervise, type ChildSpec, type LogFormat } from './start-supervisor.js';
import { ensureCerts } from '../front/tls.js';

/** The repository root, from this file's place (core/dist/src/cli/start.js), not from the cwd. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SERVICES = [
  { name: 'msgqueue', offset: 0, color: 35 },
  { name: 'publisher', offset: 1, color: 36 },
  { name: 'subscriber', offset: 2, color: 33 },
] as const;
type ServiceName = (typeof SERVICES)[number]['name'];

const OPTIONS: OptionSpec[] = [
  {
    key: 'basePort',
    type: 'int',
    default: 8080,
    min: 1,
    max: 65533,
    help: 'msgqueue port; publisher +1, subscriber +2',
  },
  {
    key: 'msgqueuePort',
    type: 'int',
    default: undefined,
    min: 1,
    max: 65535,
    help: 'msgqueue port (default: base port)',
  },
  {
    key: 'publisherPort',
    type: 'int',
    default: undefined,
    min: 1,
    max: 65535,
    help: 'publisher port (default: base port + 1)',
  },
  {
    key: 'subscriberPort',
    type: 'int',
    default: undefined,
    min: 1,
    max: 65535,
    help: 'subscriber port (default: base port + 2)',
  },
  {
    key: 'certs',
    type: 'string',
    default: 'certs',
    help: 'directory of ca.crt, server.crt and server.key (generated when missing)',
  },
  {
    key: 'stopTimeoutMs',
    type: 'int',
    default: 15000,
    min: 100,
    unit: 'ms',
    help: 'time each service gets to stop before it is killed',
  },
];

/**
 * pino-pretty's formatter. It is a development dependency (npm start runs from a checkout after
 * `npm install`), so runtime images do not carry it; without it the logs stay JSON.
 */
export async function loadPrettyFormat(color: boolean): Promise<LogFormat | undefined> {
  try {
    const { prettyFactory } = await import('pino-pretty');
    return prettyFactory({
      colorize: color,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
      singleLine: true,
    });
  } catch {
    return undefined;
  }
}

/** The advice for a child's line that says its port is taken. */
export function busyPortHint(line: string, basePort: number): string | undefined {
  if (!line.includes('EADDRINUSE')) return undefined;
  const other = basePort + 1000 <= 65533 ? basePort + 1000 : 9000;
  return `a port is in use by another program: run on other ports with npm start -- --base-port ${other} (or --msgqueue-port, --publisher-port, --subscriber-port)`;
}

function portsOf(values: Record<string, unknown>): Record<ServiceName, number> {
  const base = values.basePort as number;
  const ports = {} as Record<ServiceName, number>;
  for (const s of SERVICES) ports[s.name] = (values[`${s.name}Port`] as number | undefined) ?? base + s.offset;
  if (new Set(Object.values(ports)).size !== SERVICES.length)
    throw new ConfigError('basePort', 'the three ports must differ');
  return ports;
}

function banner(ports: Record<ServiceName, number>, certs: string): string {
  const pub = `wss://localhost:${ports.publisher}/publish`;
  const sub = `wss://localhost:${ports.subscriber}/subscribe`;
  const ca = join(certs, 'ca.crt');
  const defaults = ports.publisher === 8081 && ports.subscriber === 8082 && ca === join('certs', 'ca.crt');
  const clientdemo = defaults
    ? 'npx wsq-clientdemo'
    : `npx wsq-clientdemo --publish-url ${pub} --subscribe-url ${sub} --ca ${ca}`;
  const rule = '='.repeat(78);
  return [
    rule,
    ' wsq is running. DEMO ONLY: started with --demo, which adds a well-known user.',
    ` Demo credentials: user "${DEMO_USER}", password "${DEMO_PASSWORD}". Never use --demo in production;`,
    ' create real users with: npx wsq-users add NAME --users FILE',
    '',
    ` publisher   ${pub}`,
    ` subscriber  ${sub}`,
    ` msgqueue    wss://localhost:${ports.msgqueue}  (internal)`,
    ` health      https://localhost:${ports.publisher}/healthz  /readyz  /metrics (each service)`,
    ` browser     https://localhost:${ports.subscriber}/demo/  (the demo page; trust ${ca} in the browser)`,
    '',
    ' Connect:',
    `   ${clientdemo}`,
    `   npx wscat -c ${sub} --auth ${DEMO_USER}:${DEMO_PASSWORD} --ca ${ca}`,
    `   npx wscat -c ${pub} --auth ${DEMO_USER}:${DEMO_PASSWORD} --ca ${ca}`,
    '     then send {"Topic":"news","Content":"sub"} / {"Topic":"news","Content":"hello"}',
    `   wsq.v1 protocol: add -s wsq.v1 to wscat (send {"op":"sub","topic":"news"}), or --protocol v1 to wsq-clientdemo`,
    '',
    ' Ctrl-C stops all three.',
    rule,
  ].join('\n');
}

/** Runs the trio until it stops; resolves with the exit status. */
export async function runStart(): Promise<number> {
  const argv = process.argv.slice(2);
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const passThrough = split < 0 ? [] : argv.slice(split + 1);
  let ports: Record<ServiceName, number> | undefined;
  const loaded = loadConfig(OPTIONS, {
    service: 'start',
    description:
      'Runs msgqueue, publisher and subscriber with demo credentials (npm start). Words after `--` go to all three.',
    argv: own,
    finish: (values) => void (ports = portsOf(values)),
  });
  if (loaded.kind === 'exit') {
    (loaded.code === 0 ? process.stdout : process.stderr).write(loaded.output);
    return loaded.code;
  }
  if (loaded.printConfig) {
    process.stdout.write(printableConfig(OPTIONS, loaded.config));
    return 0;
  }
  const config = loaded.config;
  const certs = config.certs as string;
  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  const say = (text: string): boolean => process.stderr.write(`[start] ${text}\n`);

  for (const s of SERVICES) {
    const main = join(ROOT, s.name, 'dist', 'src', 'main.js');
    if (!existsSync(main)) {
      say(`${s.name} is not built (no ${main}): run npm run build`);
      return 1;
    }
  }
  if ((await ensureCerts(certs)).created) {
    say(`no certificate in ${certs}/: generated a local CA (${join(certs, 'ca.crt')}) and a certificate for localhost`);
  }
  const tlsArgs = [
    '--cert',
    join(certs, 'server.crt'),
    '--key',
    join(certs, 'server.key'),
    '--ca',
    join(certs, 'ca.crt'),
  ];
  const p = ports!;
  const children: ChildSpec[] = SERVICES.map((s) => ({
    name: s.name,
    color: s.color,
    command: process.execPath,
    // The fronts start once the msgqueue listens: no refused first link attempt.
    after: s.name === 'msgqueue' ? undefined : 'msgqueue',
    args: [
      join(ROOT, s.name, 'dist', 'src', 'main.js'),
      '--demo',
      '--port',
      String(p[s.name]),
      ...tlsArgs,
      ...(s.name === 'msgqueue' ? [] : ['--queue', `wss://localhost:${p.msgqueue}`]),
      ...passThrough,
    ],
  }));
  say(
    `starting msgqueue on ${p.msgqueue}, publisher on ${p.publisher}, subscriber on ${p.subscriber} (DEMO ONLY: --demo)`,
  );

  const format = await loadPrettyFormat(color);
  if (!format) say('pino-pretty is not installed (run npm install): logs are shown as JSON');
  const listening = new Set<string>();
  const supervisor = supervise({
    children,
    stdout: process.stdout,
    stderr: process.stderr,
    color,
    format,
    hint: (_name, line) => busyPortHint(line, config.basePort as number),
    stopTimeoutMs: config.stopTimeoutMs as number,
    onListening: (name) => {
      listening.add(name);
      if (listening.size === SERVICES.length) process.stdout.write(banner(p, certs) + '\n');
    },
  });
  const onSignal = (signal: string): void => {
    say(`${signal}: stopping all three`);
    supervisor.stop();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const code = await supervisor.done;
  say(code === 0 ? 'all stopped' : 'stopped after a failure');
  return code;
}
