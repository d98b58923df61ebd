/**
 * What ws-adapter.ts relies on in `ws`'s private fields, checked on real TLS connections: when
 * a `ws` upgrade changes any of it, this fails, naming what changed.
 */
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import t from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { putTextFrameHeader, textFrameHeaderBytes } from '../src/front/raw-frames.js';
import { beforeClose, rawSocketOf } from '../src/front/ws-adapter.js';
import { FrameReader, testTls, type Teardown } from './helpers/index.js';

function textFrame(text: string): Buffer {
  const n = Buffer.byteLength(text);
  const frame = Buffer.allocUnsafe(textFrameHeaderBytes(n) + n);
  frame.write(text, putTextFrameHeader(frame, 0, n));
  return frame;
}

/** A TLS WebSocket server on port 0 and a client connected to it: the server's side and the client's. */
async function connectedPair(
  t: Teardown,
  perMessageDeflate = false,
): Promise<{ server: WebSocket; client: WebSocket; frames: FrameReader }> {
  const tls = await testTls();
  const https = createServer({ cert: tls.cert, key: tls.key });
  const wss = new WebSocketServer({ server: https, perMessageDeflate });
  https.listen(0, '127.0.0.1');
  await once(https, 'listening');
  t.teardown(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    https.closeAllConnections();
    return new Promise((resolve) => https.close(resolve));
  });
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const { port } = https.address() as AddressInfo;
  const client = new WebSocket(`wss://localhost:${port}`, {
    ca: tls.ca,
    perMessageDeflate: perMessageDeflate ? {} : false,
  });
  const frames = new FrameReader(client);
  await once(client, 'open');
  const [server] = await accepted;
  return { server, client, frames };
}

t.test('the private fields the adapter reads exist, with the shape it expects', async (t) => {
  const { server } = await connectedPair(t);
  const priv = server as unknown as {
    _socket: unknown;
    _sender: { _bufferedBytes?: unknown };
  };
  t.equal(server.extensions, '', 'no extensions negotiated');
  t.ok(priv._socket instanceof TLSSocket, 'ws._socket is the TLS socket');
  t.type((priv._socket as TLSSocket).write, 'function');
  t.type((priv._socket as TLSSocket).writableLength, 'number');
  t.ok(priv._sender && typeof priv._sender === 'object', 'ws._sender exists');
  t.equal(priv._sender._bufferedBytes, 0, 'ws._sender._bufferedBytes: nothing queued without extensions');
  t.equal(rawSocketOf(server), priv._socket, 'rawSocketOf hands out that socket');
});

t.test('bytes written through the raw socket arrive as a valid frame, between ws’s own', async (t) => {
  const { server, frames } = await connectedPair(t);
  const raw = rawSocketOf(server);
  if (!raw) return t.fail('no raw socket');
  server.send('before');
  raw.write(Buffer.concat([textFrame('raw one'), textFrame('x'.repeat(70_000))]));
  server.send('after');
  t.equal(await frames.next(), 'before');
  t.equal(await frames.next(), 'raw one');
  t.equal(await frames.next(), 'x'.repeat(70_000), 'a 64-bit length frame');
  t.equal(await frames.next(), 'after');
});

t.test('bufferedAmount counts bytes written through the raw socket', async (t) => {
  const { server, client, frames } = await connectedPair(t);
  const raw = rawSocketOf(server);
  if (!raw) return t.fail('no raw socket');
  // The client stops reading, so what the server writes stays in its socket's buffer.
  client.pause();
  const chunk = textFrame('y'.repeat(64 * 1024));
  let sent = 0;
  while (raw.write(chunk)) sent++;
  sent++;
  const before = server.bufferedAmount;
  t.ok(before > 0, 'the socket is backed up');
  raw.write(chunk);
  sent++;
  t.equal(server.bufferedAmount - before, chunk.length, 'a raw write adds its bytes to bufferedAmount');
  server.send('z');
  t.equal(server.bufferedAmount - before, chunk.length + 3, 'ws.send adds its frame the same way');
  client.resume();
  for (let i = 0; i < sent; i++) t.equal((await frames.next()).length, 64 * 1024, `frame ${i}`, { diagnostic: false });
  t.equal(await frames.next(), 'z');
  t.equal(server.bufferedAmount, 0, 'all of it left');
});

t.test('beforeClose runs before the close frame is written', async (t) => {
  const { server, frames } = await connectedPair(t);
  const raw = rawSocketOf(server);
  if (!raw) return t.fail('no raw socket');
  const order: string[] = [];
  beforeClose(server, () => {
    order.push('before');
    raw.write(textFrame('last words'));
  });
  server.close(1000, 'bye');
  t.same(order, ['before']);
  t.equal(await frames.next(), 'last words');
  t.same(await frames.waitClose(), { code: 1000, reason: 'bye' });
});

t.test('no raw socket with an extension, on a fake, or a socket gone', async (t) => {
  const { server } = await connectedPair(t, true);
  t.match(server.extensions, /permessage-deflate/);
  t.equal(rawSocketOf(server), undefined, 'deflate frames cannot be written raw');
  const socket = { write: () => true };
  t.equal(rawSocketOf({ extensions: '', _socket: socket } as { extensions: string }), socket);
  t.equal(rawSocketOf({ _socket: socket } as object), undefined, 'a fake without extensions');
  t.equal(rawSocketOf({ extensions: '', _socket: null } as { extensions: string }), undefined, 'a socket gone');
  const { server: plain, client } = await connectedPair(t);
  const closed = once(plain, 'close');
  client.terminate();
  await closed;
  // ws keeps _socket after close: writers check readyState (as Replies and the subscriber do).
  t.equal(plain.readyState, WebSocket.CLOSED);
  t.ok((plain as unknown as { _socket: { destroyed: boolean } })._socket.destroyed, 'the socket under it is destroyed');
});
