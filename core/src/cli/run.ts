/**
 * What every src/main.ts does: parse configuration (exit 2 naming the field), build the
 * service (exit 1 with the error's code when it cannot start), listen (a host it cannot
 * listen on also exits 2, naming host), and turn SIGTERM/SIGINT into a graceful close (exit 0
 * within 10 s) and SIGHUP into a reload (users file and TLS certificate). Kept here so the
 * four entry files are a few lines of wiring.
 */
import type { AddressInfo } from 'node:net';
import {
  loadConfig,
  nameOrigin,
  printableConfig,
  type ConfigValues,
  type LoadOptions,
  type OptionSpec,
} from '../config/config.js';
import { ConfigError } from '../protocol/errors.js';
import { createLogger, type Logger } from '../observe/log.js';

export interface ServiceHandle {
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
  reload?(): void;
}

export interface RunOptions extends LoadOptions {
  specs: readonly OptionSpec[];
  build(config: ConfigValues, log: Logger): Promise<ServiceHandle>;
  /** Hard limit for a graceful shutdown. */
  shutdownTimeoutMs?: number;
}

export async function runService(opts: RunOptions): Promise<void> {
  const loaded = loadConfig(opts.specs, opts);
  if (loaded.kind === 'exit') {
    (loaded.code === 0 ? process.stdout : process.stderr).write(loaded.output);
    process.exitCode = loaded.code;
    return;
  }
  if (loaded.printConfig) {
    process.stdout.write(printableConfig(opts.specs, loaded.config));
    return;
  }
  const log = createLogger({ service: opts.service, level: String(loaded.config.logLevel ?? 'info') });
  let handle: ServiceHandle;
  try {
    handle = await opts.build(loaded.config, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`wsq-${opts.service}: invalid configuration: ${nameOrigin(err, loaded.origins).message}\n`);
      log.flush();
      process.exit(2);
    }
    // Anything else that stops the start (a corrupt journal) is not the operator's typo: exit 1
    // with its stable code on stderr, and the whole error (stack included) in the log.
    const code = (err as { code?: unknown }).code;
    const prefix = typeof code === 'string' ? `${code}: ` : '';
    process.stderr.write(`wsq-${opts.service}: cannot start: ${prefix}${(err as Error).message}\n`);
    log.error({ err }, 'cannot start');
    log.flush();
    process.exit(1);
  }
  let address: AddressInfo;
  try {
    address = await handle.listen();
  } catch (err) {
    // An unusable --host is a ConfigError (exit 2); a port in use and the like exit 1.
    const bad = err instanceof ConfigError;
    const what = bad ? 'invalid configuration' : 'cannot listen';
    const message = bad ? nameOrigin(err, loaded.origins).message : (err as Error).message;
    process.stderr.write(`wsq-${opts.service}: ${what}: ${message}\n`);
    log.flush();
    process.exit(bad ? 2 : 1);
  }
  const scheme = loaded.config.tls === false ? 'http' : 'https';
  log.info(
    { host: address.address, port: address.port },
    `${opts.service} listening on ${scheme}://${address.address}:${address.port}`,
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('graceful shutdown timed out');
      log.flush();
      process.exit(1);
    }, opts.shutdownTimeoutMs ?? 10_000);
    timer.unref();
    handle.close().then(
      () => {
        log.info('stopped');
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading');
    handle.reload?.();
  });
}
