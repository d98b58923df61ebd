/**
 * Test helpers shared by every workspace (imported as '@wsq/core/testing'): TLS material
 * generated once per test process, WebSocket and HTTPS clients that trust it, a frame reader
 * that waits on events, a log sink; an in-memory queue home (memory-queue.ts) and a stub of a
 * ws-go msgqueue (legacy-msgqueue.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { WebSocket, type ClientOptions } from 'ws';
import { generateCerts } from '../../src/front/tls.js';
import { createLogger, type Logger } from '../../src/observe/log.js';
import { until } from './until.js';

/** The part of a tap Test that helpers need: register cleanup right after creating something. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface TestTls {
  dir: string;
  certPath: string;
  keyPath: string;
  caPath: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

let tlsPromise: Promise<TestTls> | undefined;

/** A CA and a localhost certificate, generated once per process into a temp dir. */
export function testTls(): Promise<TestTls> {
  tlsPromise ??= (async () => {
    const c = await generateCerts(2);
    const dir = mkdtempSync(join(tmpdir(), 'wsq-certs-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const paths = { certPath: join(dir, 'server.crt'), keyPath: join(dir, 'server.key'), caPath: join(dir, 'ca.crt') };
    writeFileSync(paths.certPath, c.cert);
    writeFileSync(paths.keyPath, c.key);
    writeFileSync(paths.caPath, c.caCert);
    return { dir, ...paths, ca: Buffer.from(c.caCert), cert: Buffer.from(c.cert), key: Buffer.from(c.key) };
  })();
  return tlsPromise;
}

export interface ConnectOptions {
  ca?: Buffer;
  user?: string;
  password?: string;
  protocol?: string;
  headers?: Record<string, string>;
  maxPayload?: number;
}

function clientOptions(o: ConnectOptions): ClientOptions {
  const headers: Record<string, string> = { ...o.headers };
  if (o.user !== undefined) {
    headers.authorization = 'Basic ' + Buffer.from(`${o.user}:${o.password ?? ''}`).toString('base64');
  }
  return { ca: o.ca, headers, maxPayload: o.maxPayload ?? 100 * 1024 * 1024, perMessageDeflate: false };
}

/** Opens a WebSocket; rejects with `{ status }` when the server answers the upgrade with HTTP. */
export function connectWs(url: string, o: ConnectOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, o.protocol ? [o.protocol] : [], clientOptions(o));
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, headers: res.headers }));
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** The HTTP status an upgrade attempt gets (101 when it succeeds; the socket is then closed). */
export async function upgradeStatus(
  url: string,
  o: ConnectOptions = {},
): Promise<{ status: number; headers: Record<string, unknown> }> {
  try {
    const ws = await connectWs(url, o);
    ws.close();
    return { status: 101, headers: {} };
  } catch (err) {
    const e = err as { status?: number; headers?: Record<string, unknown> };
    if (e.status === undefined) throw err;
    return { status: e.status, headers: e.headers ?? {} };
  }
}

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpsRequest(
  url: string,
  o: ConnectOptions & { method?: string; body?: string } = {},
): Promise<HttpsResult> {
  const { headers } = clientOptions(o);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', ca: o.ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Writes `request` as is on a new TLS connection; resolves with all the server wrote before closing. */
export function rawTlsExchange(port: number, ca: Buffer, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca }, () => sock.write(request));
    let answer = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (answer += d));
    sock.on('error', reject);
    sock.on('close', () => resolve(answer));
  });
}

/** Buffers a socket's text frames; next() waits for the following one. */
export class FrameReader {
  /** Text frames as strings, binary frames as bytes. */
  private readonly frames: (string | Buffer)[] = [];
  private waiters: { resolve: (f: string | Buffer) => void; reject: (e: Error) => void }[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly closedWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const frame = isBinary ? data : data.toString();
      const w = this.waiters.shift();
      if (w) w.resolve(frame);
      else this.frames.push(frame);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.waiters) w.reject(new Error(`socket closed with ${code}`));
      this.waiters = [];
      for (const w of this.closedWaiters) w(this.closed);
    });
  }

  /** The next frame as text (a binary frame in base64). */
  async next(): Promise<string> {
    const f = await this.nextFrame();
    return typeof f === 'string' ? f : f.toString('base64');
  }

  /** The next frame: a string for a text frame, bytes for a binary one. */
  nextFrame(): Promise<string | Buffer> {
    const f = this.frames.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.closed) return Promise.reject(new Error(`socket closed with ${this.closed.code}`));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async json(): Promise<Record<string, unknown>> {
    return JSON.parse(await this.next()) as Record<string, unknown>;
  }

  /** Frames already received and not yet read. */
  get pending(): number {
    return this.frames.length;
  }

  waitClose(): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }
}

/**
 * How many times `key` is a key of the raw JSON line `line`: JSON.parse keeps only the last
 * of repeated keys, so a duplicate shows only in the text. (A `"key":` inside a string value
 * is escaped as `\"key\":` and is not counted.)
 */
export function keyCount(line: string, key: string): number {
  return line.split(`"${key}":`).length - 1;
}

/** A logger writing JSON lines into memory. */
export function logSink(
  service = 'test',
  level = 'debug',
): {
  log: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
  /** Resolves once `check()` is true, re-checked after every log line. */
  until: (check: () => boolean) => Promise<void>;
} {
  const chunks: string[] = [];
  const written = new Set<() => void>();
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      for (const recheck of [...written]) recheck();
      cb();
    },
  });
  const log = createLogger({ service, level, stream });
  const text = () => chunks.join('');
  return {
    log,
    text,
    until: (check) =>
      until(check, (recheck) => {
        written.add(recheck);
        return () => written.delete(recheck);
      }),
    lines: () =>
      text()
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export * from './until.js';
export * from './memory-queue.js';
export * from './legacy-msgqueue.js';
export * from './nats-server.js';
