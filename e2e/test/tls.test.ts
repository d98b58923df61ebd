/**
 * TLS operations on the real programs: a certificate replaced on disk and announced by SIGHUP
 * is served to new handshakes by every service without a restart; `--tls=false` serves plain
 * HTTP and ws:// with Basic Auth still required, and warns.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { generateCerts } from '@wsq/core';
import { type Teardown, testTls, upgradeStatus } from '@wsq/core/testing';
import t from 'tap';
import { spawnService, type ServiceName } from './harness.js';

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The SHA-256 fingerprint of the certificate a new handshake gets (the chain is not checked). */
async function servedFingerprint(port: number): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

t.test('SIGHUP: every service serves the replaced certificate without a restart', async (t) => {
  const [a, b] = await Promise.all([generateCerts(2), generateCerts(2)]);
  const services: ServiceName[] = ['msgqueue', 'publisher', 'subscriber'];
  await Promise.all(
    services.map(async (name) => {
      const dir = tempDir(t);
      const paths = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt') };
      writeFileSync(paths.cert, a.cert);
      writeFileSync(paths.key, a.key);
      writeFileSync(paths.ca, a.caCert);
      const args = ['--port', '0', '--demo', '--cert', paths.cert, '--key', paths.key, '--ca', paths.ca];
      if (name === 'msgqueue') args.push('--data-dir', join(dir, 'data'));
      else args.push('--queue', 'wss://localhost:1'); // no msgqueue needed to serve TLS
      const svc = spawnService(name, args);
      t.teardown(() => svc.terminate());
      const port = await svc.listening();
      const first = await servedFingerprint(port);
      writeFileSync(paths.key, b.key);
      writeFileSync(paths.cert, b.cert);
      svc.child.kill('SIGHUP');
      await svc.waitLog((l) => l.msg === 'TLS certificate reloaded');
      const second = await servedFingerprint(port);
      t.not(second, first, `${name}: a new handshake gets the new certificate`);
      t.equal(svc.child.exitCode, null, `${name} still runs`);
    }),
  );
});

t.test('--tls=false: plain HTTP and ws://, Basic Auth still required, a warning', async (t) => {
  const tls = await testTls(); // the msgqueue link still verifies against --ca
  const args = ['--port', '0', '--demo', '--tls=false', '--queue', 'wss://localhost:1', '--ca', tls.caPath];
  const svc = spawnService('publisher', args);
  t.teardown(() => svc.terminate());
  const port = await svc.listening();
  const warning = await svc.waitLog((l) => /TLS is off/.test(String(l.msg)));
  t.equal(warning.level, 'warn');
  t.ok(
    svc.lines.some((l) => String(l.msg).includes(`listening on http://127.0.0.1:${port}`)),
    'the listening line says http://',
  );
  t.equal((await upgradeStatus(`ws://127.0.0.1:${port}/publish`)).status, 401, 'no credentials: 401');
  t.equal(
    (await upgradeStatus(`ws://127.0.0.1:${port}/publish`, { user: 'hello', password: 'test' })).status,
    101,
    'with credentials: the WebSocket opens',
  );
});
