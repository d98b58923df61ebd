/**
 * Raw sockets for hostile-input tests: an upgrade done by hand over TLS, so the test can
 * write any bytes (broken frame headers, unmasked frames, invalid UTF-8) that a real client
 * library would refuse to send, and read the close code the server answers with.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';

export interface RawOptions {
  ca: Buffer;
  user?: string;
  password?: string;
  protocol?: string;
  /** Source address (e.g. 127.0.0.2) so a flood comes from elsewhere than the normal client. */
  localAddress?: string;
}

function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

/** A WebSocket frame. Client frames are masked unless `mask` is false. */
export function frame(
  opcode: number,
  payload: Buffer | string,
  o: { mask?: boolean; fin?: boolean; rsv?: number } = {},
): Buffer {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const mask = o.mask ?? true;
  const first = ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode;
  let header: Buffer;
  if (data.length < 126) header = Buffer.from([first, (mask ? 0x80 : 0) | data.length]);
  else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  if (!mask) return Buffer.concat([header, data]);
  const key = randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  return Buffer.concat([header, key, body]);
}

export interface RawSocket {
  sock: TLSSocket;
  /** The status code of the server's close frame (null if it closed without one), once the socket closed. */
  closed: Promise<number | null>;
}

/** Upgrades by hand; resolves once the server answered 101. */
export function rawWebSocket(url: string, o: RawOptions): Promise<RawSocket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port: Number(u.port), servername: u.hostname, ca: o.ca });
    sock.on('error', reject);
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
    ];
    if (o.user !== undefined) lines.push(`Authorization: ${basic(o.user, o.password ?? '')}`);
    if (o.protocol) lines.push(`Sec-WebSocket-Protocol: ${o.protocol}`);
    sock.once('secureConnect', () => sock.write(lines.join('\r\n') + '\r\n\r\n'));
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let closeCode: number | null = null;
    const closed = new Promise<number | null>((res) => sock.once('close', () => res(closeCode)));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        if (!head.startsWith('HTTP/1.1 101')) {
          sock.destroy();
          reject(Object.assign(new Error(head.split('\r\n')[0]), { status: Number(head.split(' ')[1]) }));
          return;
        }
        upgraded = true;
        sock.off('error', reject);
        sock.on('error', () => undefined);
        resolve({ sock, closed });
      }
      // Server frames are unmasked and small here: look for a close frame (opcode 8).
      while (buf.length >= 2) {
        const len = buf[1]! & 0x7f;
        if (len >= 126 || buf.length < 2 + len) break;
        if ((buf[0]! & 0x0f) === 0x8 && len >= 2 && closeCode === null) closeCode = buf.readUInt16BE(2);
        buf = buf.subarray(2 + len);
      }
    });
  });
}

/** An upgrade attempt's HTTP status, from a chosen source address; 0 if the socket failed. */
export function upgradeAttempt(url: string, o: RawOptions): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const headers: Record<string, string> = {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Version': '13',
    };
    if (o.user !== undefined) headers.Authorization = basic(o.user, o.password ?? '');
    const req = request({
      host: '127.0.0.1',
      servername: u.hostname,
      port: Number(u.port),
      path: u.pathname,
      ca: o.ca,
      agent: false,
      headers,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** A TLS socket that sends the start of an upgrade request and then nothing; resolves when the server closes it. */
export function halfOpenUpgrade(url: string, o: RawOptions): { opened: Promise<void>; closed: Promise<void> } {
  const u = new URL(url);
  const sock = connect({
    host: '127.0.0.1',
    port: Number(u.port),
    servername: u.hostname,
    ca: o.ca,
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
  sock.on('error', () => undefined);
  sock.resume();
  const opened = new Promise<void>((resolve) =>
    sock.once('secureConnect', () => {
      sock.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n`);
      resolve();
    }),
  );
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  return { opened, closed };
}
