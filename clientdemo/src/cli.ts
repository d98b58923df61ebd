/**
 * `wsq-clientdemo [pub TOPIC TEXT… | sub TOPIC…] [options]`. Never exits the process: returns
 * the exit status (0 done, 1 connection or server failure, 2 bad usage) so tests call it too.
 */
import { isValidPattern, isValidTopic, loadConfig, printableConfig } from '@wsq/core';
import { splitArgv } from './argv.js';
import { createClient, type Client } from './client.js';
import { ClientError, describeClose } from './errors.js';
import { painter, receivedLine, sentLine, useColor, type Painter } from './format.js';
import { checkOptions, ENV_PREFIX, OPTIONS, toClientdemoConfig, type ClientdemoConfig } from './options.js';
import { runRepl } from './repl.js';

export interface CliIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Aborted on SIGINT / SIGTERM: script modes and a non-terminal REPL end cleanly. */
  signal?: AbortSignal;
}

const NAME = 'wsq-clientdemo';
const DESCRIPTION = [
  'The wsq demo client.',
  '',
  `  ${NAME} [options]                 interactive (type help)`,
  `  ${NAME} pub TOPIC TEXT… [options] publish one message`,
  `  ${NAME} sub TOPIC… [options]      print <[topic] text lines`,
].join('\n');

export async function runCli(io: CliIo): Promise<number> {
  const { words, flags } = splitArgv(io.argv, OPTIONS);
  const loaded = loadConfig(OPTIONS, {
    service: 'clientdemo',
    description: DESCRIPTION,
    argv: flags,
    env: io.env,
    envPrefix: ENV_PREFIX,
    finish: checkOptions,
  });
  if (loaded.kind === 'exit') {
    (loaded.code === 0 ? io.stdout : io.stderr).write(loaded.output);
    return loaded.code;
  }
  if (loaded.printConfig) {
    io.stdout.write(printableConfig(OPTIONS, loaded.config));
    return 0;
  }
  const usage = (message: string): number => {
    io.stderr.write(`${NAME}: ${message} (see ${NAME} --help)\n`);
    return 2;
  };
  let config: ClientdemoConfig;
  try {
    config = toClientdemoConfig(loaded.config);
  } catch (err) {
    return usage(`invalid configuration: ${(err as Error).message}`);
  }
  const [command, ...args] = words;
  switch (command) {
    case undefined:
      return interactive(io, config);
    case 'pub': {
      const [topic, ...text] = args;
      if (!isValidTopic(topic))
        return usage(`pub needs a topic (printable ASCII, no wildcards), got ${JSON.stringify(topic ?? '')}`);
      if (text.length === 0) return usage('pub needs the message text after the topic');
      return publishOnce(io, config, topic, text.join(' '));
    }
    case 'sub': {
      if (args.length === 0) return usage('sub needs at least one topic');
      const bad = args.find((p) => !isValidPattern(p));
      if (bad !== undefined) return usage(`not a valid topic pattern: ${JSON.stringify(bad)}`);
      return subscribeAndPrint(io, config, args);
    }
    default:
      return usage(
        `unknown command ${JSON.stringify(command)}: use pub, sub, or no command for the interactive client`,
      );
  }
}

/** Connects, or prints the one-line reason and returns undefined. */
async function connect(
  io: CliIo,
  config: ClientdemoConfig,
  paint: Painter,
  which: { publish?: boolean; subscribe?: boolean },
): Promise<Client | undefined> {
  const client = createClient(config.client);
  try {
    await client.connect(which);
    return client;
  } catch (err) {
    io.stderr.write(paint('red', `${NAME}: ${(err as Error).message}`) + '\n');
    return undefined;
  }
}

function failure(io: CliIo, paint: Painter, err: unknown): number {
  if (!(err instanceof ClientError)) throw err;
  io.stderr.write(paint('red', `${NAME}: ${err.message}`) + '\n');
  return 1;
}

async function interactive(io: CliIo, config: ClientdemoConfig): Promise<number> {
  const paint = painter(useColor(io.stderr, io.env));
  const client = await connect(io, config, paint, { publish: true, subscribe: true });
  if (!client) return 1;
  const c = config.client;
  return runRepl({
    client,
    input: io.stdin,
    output: io.stdout,
    color: useColor(io.stdout, io.env),
    terminal: io.stdin.isTTY === true && io.stdout.isTTY === true,
    signal: io.signal,
    greeting: `connected as ${c.user} to ${c.publishUrl} and ${c.subscribeUrl} (${c.protocol}); type help for the commands`,
  });
}

async function publishOnce(io: CliIo, config: ClientdemoConfig, topic: string, text: string): Promise<number> {
  const paint = painter(useColor(io.stderr, io.env));
  const client = await connect(io, config, paint, { publish: true });
  if (!client) return 1;
  try {
    const r = await client.publish(topic, text, { id: config.id });
    if (config.json && r.raw !== undefined) io.stdout.write(r.raw + '\n');
    else io.stdout.write(sentLine(topic, text) + (r.seq === undefined ? '' : ` (seq ${r.seq})`) + '\n');
    return 0;
  } catch (err) {
    return failure(io, paint, err);
  } finally {
    await client.close();
  }
}

async function subscribeAndPrint(io: CliIo, config: ClientdemoConfig, patterns: string[]): Promise<number> {
  const paint = painter(useColor(io.stderr, io.env));
  const out = painter(!config.json && useColor(io.stdout, io.env));
  const client = await connect(io, config, paint, { subscribe: true });
  if (!client) return 1;
  let received = 0;
  const code = await new Promise<number>((resolve) => {
    const finish = (c: number): void => {
      io.signal?.removeEventListener('abort', onAbort);
      resolve(c);
    };
    const onAbort = (): void => finish(0);
    client.on('message', (d) => {
      if (config.count !== undefined && received >= config.count) return;
      received++;
      io.stdout.write((config.json ? d.raw : out('green', receivedLine(d.topic, d.text))) + '\n');
      if (config.count !== undefined && received >= config.count) finish(0);
    });
    client.on('error', (err) => io.stderr.write(paint('red', `${NAME}: ${err.message}`) + '\n'));
    client.on('state', (state) => {
      if (state === 'reconnecting') io.stderr.write(paint('red', `${NAME}: connection lost; reconnecting`) + '\n');
      else if (state === 'open') io.stderr.write(paint('dim', 'reconnected; subscriptions resumed') + '\n');
    });
    client.on('close', (endpoint, closeCode, reason) => {
      io.stderr.write(
        paint('red', `${NAME}: the ${endpoint} closed the connection (${describeClose(closeCode, reason)})`) + '\n',
      );
      finish(1);
    });
    if (io.signal?.aborted) return finish(0);
    io.signal?.addEventListener('abort', onAbort);
    Promise.all(patterns.map((p) => client.subscribe(p, { since: config.since }))).then(
      (results) => {
        if (config.client.protocol !== 'v1') return;
        results.forEach((r, i) => {
          const replay = r.recovered === false ? ', retention no longer reaches --since' : '';
          io.stderr.write(paint('dim', `subscribed to ${patterns[i]} (seq ${r.seq ?? '?'}${replay})`) + '\n');
        });
      },
      (err: unknown) => finish(failure(io, paint, err)),
    );
  });
  await client.close();
  return code;
}
