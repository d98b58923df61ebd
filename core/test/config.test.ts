import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { envName, flagName, loadConfig, printableConfig, type OptionSpec } from '../src/config/config.js';
import { commonOptions, LINK_OPTIONS } from '../src/config/options.js';
import { ConfigError } from '../src/protocol/errors.js';

const specs: OptionSpec[] = [...commonOptions(8081), ...LINK_OPTIONS];
const base = { service: 'publisher', description: 'test' };

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return loadConfig(specs, { ...base, argv, env });
}

function values(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = run(argv, env);
  if (r.kind !== 'run') throw new Error(`expected run, got exit ${r.code}: ${r.output}`);
  return r.config;
}

t.test('names derive from keys', async (t) => {
  t.equal(flagName('maxPayloadBytes'), '--max-payload-bytes');
  t.equal(envName('maxPayloadBytes'), 'WSQ_MAX_PAYLOAD_BYTES');
});

t.test('defaults apply and the result is frozen', async (t) => {
  const c = values([]);
  t.equal(c.port, 8081);
  t.equal(c.host, '127.0.0.1');
  t.equal(c.maxPayloadBytes, 65536);
  t.equal(c.maxBufferedBytes, 1048576);
  t.equal(c.pingIntervalMs, 25000);
  t.same(c.allowedOrigins, []);
  t.equal(c.queue, 'wss://localhost:8080');
  t.ok(Object.isFrozen(c));
});

t.test('precedence: flags > env > config file > defaults', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-config-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ port: 1001, maxPayloadBytes: 2000, host: '0.0.0.0', demo: true }));
  const c = values(['--config', file, '--port', '1003'], { WSQ_PORT: '1002', WSQ_MAX_PAYLOAD_BYTES: '3000' });
  t.equal(c.port, 1003, 'flag wins');
  t.equal(c.maxPayloadBytes, 3000, 'env beats file');
  t.equal(c.host, '0.0.0.0', 'file beats default');
  t.equal(c.demo, true);
  const viaEnv = values([], { WSQ_CONFIG: file });
  t.equal(viaEnv.port, 1001, 'WSQ_CONFIG names the file');
});

t.test('lists and booleans from flags and env', async (t) => {
  const c = values(['--allowed-origins', 'https://a.com, https://*.b.com', '--demo', '--insecure']);
  t.same(c.allowedOrigins, ['https://a.com', 'https://*.b.com']);
  t.same(
    values([], { WSQ_ALLOWED_ORIGINS: 'https://A.com:443,http://b.com:80,https://*.C.com:8443' }).allowedOrigins,
    ['https://a.com', 'http://b.com', 'https://*.c.com:8443'],
    'origins are normalised: lower case, no default port',
  );
  t.equal(c.demo, true);
  t.equal(c.insecure, true);
  t.equal(values([], { WSQ_DEMO: 'false' }).demo, false);
  t.equal(values([], { WSQ_DEMO: '1' }).demo, true);
});

t.test('a flag turns a boolean off: --no-<flag> and --<flag>=true|false beat env and file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-config-'));
  const file = join(dir, 'on.json');
  writeFileSync(file, JSON.stringify({ insecure: true, demo: true, metricsAuth: true }));
  const off = values(['--config', file, '--no-insecure', '--no-demo', '--no-metrics-auth'], {
    WSQ_INSECURE: 'true',
    WSQ_DEMO: 'yes',
  });
  t.equal(off.insecure, false, '--no-insecure beats WSQ_INSECURE and the file');
  t.equal(off.demo, false, '--no-demo beats WSQ_DEMO and the file');
  t.equal(off.metricsAuth, false, '--no-metrics-auth beats the file');
  t.equal(values(['--insecure=false'], { WSQ_INSECURE: 'true' }).insecure, false, '--insecure=false');
  t.equal(values(['--config', file, '--demo=false']).demo, false, '--demo=false');
  t.equal(values(['--demo=true'], { WSQ_DEMO: 'false' }).demo, true, '--demo=true beats WSQ_DEMO=false');
  t.equal(values(['--per-message-deflate']).perMessageDeflate, true, 'a bare flag still turns it on');
  t.equal(values(['--demo', '--no-demo']).demo, false, 'the last of two flags wins');
  t.equal(values([], { WSQ_DEMO: 'true' }).demo, true, 'no flag: env still applies');
  t.equal(values(['--config', file]).insecure, true, 'no flag: the file still applies');
  t.equal(values(['--host=::1']).host, '::1', '--name=value still works for other options');
  t.equal(values(['--queue-password', '--demo=maybe']).queuePassword, '--demo=maybe', 'a value is never rewritten');
  const operand = run(['--', '--demo=false']);
  t.equal(operand.kind === 'exit' && operand.code, 2, 'after --, a word is an operand (a stray argument here)');
  t.notMatch(operand.kind === 'exit' ? operand.output : '', 'invalid configuration', 'not read as a flag');
});

t.test('a boolean flag with any other value exits 2 naming the flag', async (t) => {
  for (const argv of [['--demo=maybe'], ['--insecure='], ['--metrics-auth=yes'], ['--no-demo=false'], ['--no-port']]) {
    const r = run(argv);
    t.equal(r.kind === 'exit' && r.code, 2, argv.join(' '));
    const flag = argv[0]!.split('=')[0]!;
    t.match(r.kind === 'exit' ? r.output : '', flag, `${argv.join(' ')} names ${flag}`);
  }
});

t.test('invalid values exit 2 naming what the operator set: the flag or the variable', async (t) => {
  const cases: [string[], NodeJS.ProcessEnv, string][] = [
    [['--port', 'abc'], {}, '--port'],
    [['--port', '70000'], {}, '--port'],
    [['--max-payload-bytes', '1'], {}, '--max-payload-bytes'],
    [['--log-level', 'loud'], {}, '--log-level'],
    [[], { WSQ_PORT: 'abc' }, 'WSQ_PORT'],
    [[], { WSQ_PING_INTERVAL_MS: 'soon' }, 'WSQ_PING_INTERVAL_MS'],
    [[], { WSQ_DEMO: 'maybe' }, 'WSQ_DEMO'],
    [['--allowed-origins', '*'], {}, '--allowed-origins'],
    [['--allowed-origins', 'https://a.com, https://b.com/'], {}, '--allowed-origins'],
    [[], { WSQ_ALLOWED_ORIGINS: 'app.example.com' }, 'WSQ_ALLOWED_ORIGINS'],
  ];
  for (const [argv, env, where] of cases) {
    const r = run(argv, env);
    t.equal(r.kind, 'exit', `${argv.join(' ')} ${JSON.stringify(env)}`);
    if (r.kind === 'exit') {
      t.equal(r.code, 2);
      t.match(r.output, `invalid configuration: ${where}: `, `${argv.join(' ')} ${JSON.stringify(env)} names ${where}`);
    }
  }
});

t.test('a cross-field error names where the field was set', async (t) => {
  const finish = (v: Record<string, unknown>) => {
    if (v.insecure === true && v.demo !== true) throw new ConfigError('insecure', 'needs --demo here');
  };
  const both = (argv: string[], env: NodeJS.ProcessEnv) => loadConfig(specs, { ...base, argv, env, finish });
  const fromEnv = both([], { WSQ_INSECURE: 'true' });
  t.match(fromEnv.kind === 'exit' && fromEnv.output, 'invalid configuration: WSQ_INSECURE: needs --demo');
  const fromFlag = both(['--insecure'], {});
  t.match(fromFlag.kind === 'exit' && fromFlag.output, 'invalid configuration: --insecure: needs --demo');
});

t.test('--version prints wsq and the package version, exit 0', async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const r = run(['--version']);
  t.same(r, { kind: 'exit', code: 0, output: `wsq ${version}\n` });
});

t.test('an explicit boolean takes only true or false, so an empty variable cannot turn it off', async (t) => {
  const specs: OptionSpec[] = [{ key: 'tls', type: 'bool', default: true, explicit: true, help: 'TLS' }];
  const load = (argv: string[], env: NodeJS.ProcessEnv) => loadConfig(specs, { ...base, argv, env });
  for (const value of ['', '0', 'no']) {
    const r = load([], { WSQ_TLS: value });
    t.match(r.kind === 'exit' && r.output, 'WSQ_TLS: expected true or false', `WSQ_TLS=${JSON.stringify(value)}`);
  }
  const off = load([], { WSQ_TLS: 'false' });
  t.equal(off.kind === 'run' && off.config.tls, false);
  const flag = load(['--tls=false'], {});
  t.equal(flag.kind === 'run' && flag.config.tls, false);
  const on = load([], {});
  t.equal(on.kind === 'run' && on.config.tls, true, 'on unless turned off');
});

t.test('config file errors name the field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-config-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"port": "x"}');
  const unknown = join(dir, 'unknown.json');
  writeFileSync(unknown, '{"colour": "blue"}');
  const notObject = join(dir, 'array.json');
  writeFileSync(notObject, '[1]');
  const origins = join(dir, 'origins.json');
  writeFileSync(origins, '{"allowedOrigins": ["https://ok.example", "https://bad.example/"]}');
  for (const [file, field] of [
    [bad, 'port'],
    [unknown, 'colour'],
    [notObject, 'config'],
    [origins, 'allowedOrigins'],
    [join(dir, 'missing.json'), 'config'],
  ] as const) {
    const r = run(['--config', file]);
    t.equal(r.kind === 'exit' && r.code, 2, file);
    t.match(r.kind === 'exit' ? r.output : '', field);
  }
});

t.test('a config file holds JSON types: numbers, booleans and string arrays, not text', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-config-'));
  const cases: [Record<string, unknown>, string][] = [
    [{ port: '8080' }, 'port'],
    [{ demo: 'yes' }, 'demo'],
    [{ demo: 1 }, 'demo'],
    [{ insecure: 'false' }, 'insecure'],
    [{ allowedOrigins: 'https://a.example,https://b.example' }, 'allowedOrigins'],
    [{ allowedOrigins: ['https://a.example', 7] }, 'allowedOrigins'],
    [{ host: 127 }, 'host'],
    [{ users: null }, 'users'],
    [{ queuePassword: 12345 }, 'queuePassword'],
  ];
  for (const [i, [content, field]] of cases.entries()) {
    const file = join(dir, `wrong-${i}.json`);
    writeFileSync(file, JSON.stringify(content));
    const r = run(['--config', file]);
    t.equal(r.kind === 'exit' && r.code, 2, JSON.stringify(content));
    t.match(
      r.kind === 'exit' ? r.output : '',
      `invalid configuration: ${file}: ${field}: `,
      `${JSON.stringify(content)} names the file and ${field}`,
    );
  }
  const overridden = join(dir, 'overridden.json');
  writeFileSync(overridden, JSON.stringify({ port: '8080' }));
  const r = run(['--config', overridden, '--port', '1'], { WSQ_PORT: '2' });
  t.equal(r.kind === 'exit' && r.code, 2, 'a mistyped key is an error even when a flag or env overrides it');
  const secret = join(dir, 'secret.json');
  writeFileSync(secret, JSON.stringify({ queuePassword: ['s3cret!'] }));
  t.notMatch((run(['--config', secret]) as { output?: string }).output ?? '', 's3cret!', 'the value is not echoed');

  const good = join(dir, 'good.json');
  writeFileSync(
    good,
    JSON.stringify({ port: 8080, demo: true, insecure: false, allowedOrigins: ['https://a.example'], host: '::1' }),
  );
  const c = values(['--config', good]);
  t.equal(c.port, 8080);
  t.equal(c.demo, true);
  t.equal(c.insecure, false);
  t.same(c.allowedOrigins, ['https://a.example']);
  t.equal(c.host, '::1');
  t.same(
    values(['--config', good], { WSQ_ALLOWED_ORIGINS: 'https://b.example,https://c.example' }).allowedOrigins,
    ['https://b.example', 'https://c.example'],
    'env values stay text',
  );
});

t.test('unknown flags and stray arguments exit 2; --help exits 0 listing defaults and units', async (t) => {
  const unknown = run(['--frobnicate']);
  t.equal(unknown.kind === 'exit' && unknown.code, 2);
  const stray = run(['extra']);
  t.equal(stray.kind === 'exit' && stray.code, 2);
  const help = run(['--help']);
  t.equal(help.kind, 'exit');
  if (help.kind === 'exit') {
    t.equal(help.code, 0);
    t.match(help.output, '--max-payload-bytes');
    t.match(help.output, 'default: 65536 bytes');
    t.match(help.output, 'WSQ_MAX_PAYLOAD_BYTES');
    t.match(help.output, '--queue-password');
    const oneLine = help.output.replace(/\s+/g, ' ');
    for (const flag of ['--demo', '--insecure', '--metrics-auth', '--per-message-deflate']) {
      t.match(oneLine, `${flag.replace('--', '--no-')} same as ${flag}=false`, `--help shows how to turn ${flag} off`);
    }
  }
});

t.test('--print-config masks secrets', async (t) => {
  const r = run(['--print-config', '--queue-password', 's3cret!']);
  t.equal(r.kind, 'run');
  if (r.kind === 'run') {
    t.equal(r.printConfig, true);
    const text = printableConfig(specs, r.config);
    t.notMatch(text, 's3cret!');
    t.match(text, '"queuePassword": "********"');
  }
});

t.test('finish() hook validates across fields', async (t) => {
  const r = loadConfig(specs, {
    ...base,
    argv: ['--reconnect-min-ms', '500', '--reconnect-max-ms', '100'],
    env: {},
    finish(v) {
      if ((v.reconnectMinMs as number) > (v.reconnectMaxMs as number)) {
        throw new ConfigError('reconnectMaxMs', 'must be >= reconnectMinMs');
      }
    },
  });
  t.equal(r.kind === 'exit' && r.code, 2);
  t.match(r.kind === 'exit' ? r.output : '', 'invalid configuration: --reconnect-max-ms: must be');
});

t.test('--tls is on unless turned off explicitly', async (t) => {
  t.equal(values([]).tls, true);
  t.equal(values(['--tls=false']).tls, false);
  t.equal(values(['--no-tls']).tls, false);
  t.equal(values([], { WSQ_TLS: 'false' }).tls, false);
  for (const value of ['', '0', 'no', 'off']) {
    const r = run([], { WSQ_TLS: value });
    t.match(r.kind === 'exit' && r.output, 'invalid configuration: WSQ_TLS: ', `WSQ_TLS=${JSON.stringify(value)}`);
  }
});
