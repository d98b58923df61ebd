/**
 * The NATS reference: starts `nats-server` with a TLS WebSocket listener on a free port (and
 * its plain client port on another), with its own generated certificate and the same demo
 * user/password wsq uses, so both systems do TLS and authentication. Waits for "Server is ready".
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { DEMO_PASSWORD, DEMO_USER, freePort, generateCerts } from '@wsq/core';
import type { Endpoint } from './transport.js';

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const FALLBACK_PATHS = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'];

export interface NatsServer {
  wsUrl: string;
  ca: string;
  user: string;
  password: string;
  version: string;
  /** The nats-server process id (for its CPU time). */
  pid: number | undefined;
  stop(): Promise<void>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The nats-server binary: the explicit path, else PATH, else the usual system places. */
export function findNatsServer(explicit?: string, path = process.env.PATH ?? ''): string | undefined {
  if (explicit !== undefined) return executable(explicit) ? explicit : undefined;
  const candidates = [
    ...path
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'nats-server')),
    ...FALLBACK_PATHS,
  ];
  return candidates.find(executable);
}

export function natsConfig(o: { port: number; wsPort: number; certFile: string; keyFile: string }): string {
  return [
    `host: "127.0.0.1"`,
    `port: ${o.port}`,
    `authorization { user: "${DEMO_USER}", password: "${DEMO_PASSWORD}" }`,
    `websocket {`,
    `  listen: "127.0.0.1:${o.wsPort}"`,
    `  tls { cert_file: "${o.certFile}", key_file: "${o.keyFile}" }`,
    `  compression: false`,
    `}`,
    '',
  ].join('\n');
}

export async function startNatsServer(binary: string): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-bench-nats-'));
  const certs = await generateCerts(2);
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  writeFileSync(certFile, certs.cert);
  writeFileSync(keyFile, certs.key, { mode: 0o600 });
  const [port, wsPort] = [await freePort(), await freePort()];
  const confFile = join(dir, 'nats.conf');
  writeFileSync(confFile, natsConfig({ port, wsPort, certFile, keyFile }));
  const child = spawn(binary, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const lines: string[] = [];
  let version = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server not ready: ${lines.join('\n')}`)), START_TIMEOUT_MS);
      const onLine = (line: string): void => {
        lines.push(line);
        version ||= /Version:\s+(\S+)/.exec(line)?.[1] ?? '';
        if (line.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      createInterface({ input: child.stderr! }).on('line', onLine);
      createInterface({ input: child.stdout! }).on('line', onLine);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${child.exitCode ?? child.signalCode}): ${lines.join('\n')}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    wsUrl: `wss://127.0.0.1:${wsPort}`,
    ca: certs.caCert,
    user: DEMO_USER,
    password: DEMO_PASSWORD,
    version,
    pid: child.pid,
    stop,
  };
}

/** How the bench's clients reach a started nats-server: one WebSocket URL for both roles. */
export function natsEndpoint(nats: NatsServer): Endpoint {
  return {
    system: 'nats',
    publishUrl: nats.wsUrl,
    subscribeUrl: nats.wsUrl,
    user: nats.user,
    password: nats.password,
    ca: nats.ca,
  };
}
