import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import t from 'tap';
import { WebSocket } from 'ws';
import { createAuthenticator } from '../src/front/auth.js';
import { createServiceServer, type ServerLimits } from '../src/front/service-server.js';
import { generateCerts, type GeneratedCerts } from '../src/front/tls.js';
import { loadCertKeyPair } from '../src/front/tls-reload.js';
import { createLogger } from '../src/observe/log.js';
import { createMetrics } from '../src/observe/metrics.js';
import { connectWs, FrameReader, type Teardown, testTls, upgradeStatus } from './helpers/index.js';

const limits: ServerLimits = {
  host: '127.0.0.1',
  port: 0,
  maxPayloadBytes: 1024,
  pingIntervalMs: 25000,
  allowedOrigins: [],
  maxConnections: 100,
  maxConnectionsPerUser: 100,
  handshakeTimeoutMs: 10000,
  metricsAuth: false,
};

/** A log whose lines can be awaited. */
function eventLog() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  stream.setEncoding('utf8').on('data', (s: string) => {
    buffered += s;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) if (p) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  return {
    log: createLogger({ service: 'test', level: 'debug', stream }),
    lines,
    /** Resolves with the first line (from index `from`) whose msg matches. */
    async next(re: RegExp, from = 0): Promise<number> {
      for (;;) {
        const i = lines.findIndex((l, k) => k >= from && re.test(String(l.msg)));
        if (i >= 0) return i;
        await once(stream, 'data');
      }
    },
  };
}

async function start(t: Teardown, tls: 'on' | 'off', dir?: string) {
  const auth = await createAuthenticator({ demo: true });
  t.teardown(() => auth.close());
  const ev = eventLog();
  const server = createServiceServer({
    service: 'test',
    limits,
    tls: tls === 'on' ? { ...loadCertKeyPair(files(dir!)), ca: Buffer.alloc(0) } : null,
    tlsPaths: tls === 'on' ? files(dir!) : undefined,
    tlsReloadDelayMs: 20,
    auth,
    log: ev.log,
    metrics: createMetrics('test', { defaultMetrics: false }),
    isReady: () => true,
    routes: [
      {
        path: '/echo',
        protocols: [],
        legacy: true,
        onConnection: (ws, ctx) => ws.on('message', (d) => ws.send(`${ctx.principal.name}|${String(d)}`)),
      },
    ],
  });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  return { server, port, ev };
}

function files(dir: string) {
  return { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

function writePair(dir: string, c: GeneratedCerts): void {
  writeFileSync(join(dir, 'server.key'), c.key);
  writeFileSync(join(dir, 'server.crt'), c.cert);
}

/**
 * The SHA-256 fingerprint of the certificate a new TLS handshake gets; the socket stays open.
 * Both test CAs have the same name, so the chain is not verified here: only which one is served.
 */
async function handshake(t: Teardown, port: number): Promise<{ fp: string; socket: TLSSocket }> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
  t.teardown(() => socket.destroy());
  await once(socket, 'secureConnect');
  return { fp: socket.getPeerCertificate().fingerprint256, socket };
}

function fingerprintOf(pem: string): string {
  // Node prints fingerprints as colon-separated upper-case hex of the DER's SHA-256.
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

t.test('a rotated certificate is served to new handshakes; open connections stay', async (t) => {
  const [a, b] = await Promise.all([generateCerts(2), generateCerts(2)]);
  const dir = mkdtempSync(join(tmpdir(), 'wsq-rotate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writePair(dir, a);
  const { port, ev } = await start(t, 'on', dir);
  const auth = { user: 'hello', password: 'test' };

  const before = await handshake(t, port);
  t.equal(before.fp, fingerprintOf(a.cert), 'first certificate served');
  const oldWs = await connectWs(`wss://localhost:${port}/echo`, { ca: Buffer.from(a.caCert), ...auth });
  t.teardown(() => oldWs.terminate());
  const oldReader = new FrameReader(oldWs);

  // Half-written: the new certificate cut in two. The old pair stays.
  writeFileSync(join(dir, 'server.crt'), b.cert.slice(0, Math.floor(b.cert.length / 2)));
  await ev.next(/TLS certificate reload failed/);
  t.equal((await handshake(t, port)).fp, fingerprintOf(a.cert), 'a broken file keeps the old certificate');

  const mark = ev.lines.length;
  writePair(dir, b);
  await ev.next(/TLS certificate reloaded/, mark);
  t.equal((await handshake(t, port)).fp, fingerprintOf(b.cert), 'a new handshake gets the new certificate');

  oldWs.send('still here');
  t.equal(await oldReader.next(), 'hello|still here', 'the WebSocket opened before keeps working');
  t.equal(oldWs.readyState, WebSocket.OPEN);
  t.notOk(before.socket.destroyed, 'the raw TLS connection opened before is still open');
  t.equal(before.socket.getPeerCertificate().fingerprint256, fingerprintOf(a.cert));
});

t.test('reloadTls (SIGHUP) applies a new pair at once; nothing changed answers false', async (t) => {
  const [a, b] = await Promise.all([generateCerts(2), generateCerts(2)]);
  const dir = mkdtempSync(join(tmpdir(), 'wsq-rotate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writePair(dir, a);
  const { server, port } = await start(t, 'on', dir);
  t.equal(server.reloadTls(), false, 'the same files: nothing to do');
  writePair(dir, b);
  t.equal(server.reloadTls(), true, 'read now, before the watch settles');
  t.equal((await handshake(t, port)).fp, fingerprintOf(b.cert));
  // A key that is not the certificate's is refused and the served pair stays.
  writeFileSync(join(dir, 'server.key'), a.key);
  t.equal(server.reloadTls(), false);
  t.equal((await handshake(t, port)).fp, fingerprintOf(b.cert));
});

t.test('loadCertKeyPair refuses a key that does not match the certificate', async (t) => {
  const [a, b] = await Promise.all([generateCerts(2), generateCerts(2)]);
  const dir = mkdtempSync(join(tmpdir(), 'wsq-pair-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'server.crt'), a.cert);
  writeFileSync(join(dir, 'server.key'), b.key);
  t.throws(() => loadCertKeyPair(files(dir)));
  writeFileSync(join(dir, 'server.key'), a.key);
  t.ok(loadCertKeyPair(files(dir)).cert.equals(Buffer.from(a.cert)));
});

function httpGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpRequest(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

t.test('tls: null serves plain HTTP and ws:// with Basic Auth, and warns', async (t) => {
  const { port, ev } = await start(t, 'off');
  t.equal(ev.lines[await ev.next(/TLS is off/)]!.level, 'warn', 'a warning at start');
  t.equal(await httpGet(`http://127.0.0.1:${port}/healthz`), 200);
  t.equal((await upgradeStatus(`ws://127.0.0.1:${port}/echo`)).status, 401, 'no credentials: 401');
  t.equal((await upgradeStatus(`ws://127.0.0.1:${port}/echo`, { user: 'hello', password: 'nope' })).status, 401);
  const ws = await connectWs(`ws://127.0.0.1:${port}/echo`, { user: 'hello', password: 'test' });
  t.teardown(() => ws.terminate());
  const reader = new FrameReader(ws);
  ws.send('plain');
  t.equal(await reader.next(), 'hello|plain');
  // A TLS client gets no handshake from a plain server.
  const tls = await testTls();
  const refused = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: tls.ca });
  const [err] = (await once(refused, 'error')) as [Error];
  t.ok(err, 'no TLS on a plain front');
});
