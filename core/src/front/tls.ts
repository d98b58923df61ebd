/** TLS material: loading PEM files named by config, and generating the local CA for npm start. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { ConfigError } from '../protocol/errors.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/** A PEM file's bytes; unreadable or not PEM: ConfigError naming `field` when required, else undefined. */
export function readPem(field: string, path: string, required: boolean): Buffer | undefined {
  try {
    const pem = readFileSync(path);
    if (!pem.includes('-----BEGIN')) throw new Error('not a PEM file');
    return pem;
  } catch (err) {
    if (!required) return undefined;
    throw new ConfigError(field, `cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Reads cert, key and CA. The CA is optional for a service that links to nobody. */
export function loadTlsFiles(paths: { cert: string; key: string; ca: string }, needCa: boolean): TlsFiles {
  const cert = readPem('cert', paths.cert, true)!;
  const key = readPem('key', paths.key, true)!;
  const ca = readPem('ca', paths.ca, needCa) ?? Buffer.alloc(0);
  return { cert, key, ca };
}

/**
 * The front's TLS settings from a service's options: the files it serves (null with
 * --tls=false) and their paths, watched for a rotation.
 */
export function frontTls(c: { tls: boolean; cert: string; key: string; ca: string }): {
  tls: TlsFiles | null;
  tlsPaths?: { cert: string; key: string };
} {
  if (!c.tls) return { tls: null };
  return { tls: loadTlsFiles(c, false), tlsPaths: { cert: c.cert, key: c.key } };
}

export interface GeneratedCerts {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

/** A local CA and a server certificate for localhost, 127.0.0.1 and ::1. */
export async function generateCerts(days = 825): Promise<GeneratedCerts> {
  const notAfterDate = new Date(Date.now() + days * 86_400_000);
  const ca = await generate([{ name: 'commonName', value: 'wsq local CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { caCert: ca.cert, caKey: ca.private, cert: server.cert, key: server.private };
}

/** Writes certs/ (ca.crt, ca.key, server.crt, server.key) unless a server certificate exists. */
export async function ensureCerts(dir: string): Promise<{ created: boolean }> {
  if (existsSync(join(dir, 'server.crt')) && existsSync(join(dir, 'server.key'))) return { created: false };
  mkdirSync(dir, { recursive: true });
  const c = await generateCerts();
  writeFileSync(join(dir, 'ca.crt'), c.caCert);
  writeFileSync(join(dir, 'ca.key'), c.caKey, { mode: 0o600 });
  writeFileSync(join(dir, 'server.crt'), c.cert);
  writeFileSync(join(dir, 'server.key'), c.key, { mode: 0o600 });
  return { created: true };
}
