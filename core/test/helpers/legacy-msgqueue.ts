/**
 * A stub of what a ws-go msgqueue is to a wsq publisher or subscriber: HTTPS + WebSocket on
 * port 0 with the test certificate and Basic Auth, /pushmsg and /popmsg with no subprotocol
 * (ws-go's legacy link). Frames pushed to it are recorded (ws-go ignores what it cannot
 * decode); `push` sends a legacy frame to every /popmsg connection. No journal, no acks: ws-go
 * has neither on its links.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { contentToData, dataToContent, decodeLegacy, encodeLegacy } from '../../src/protocol/legacy.js';
import { testTls, type Teardown } from './index.js';
import { untilChange } from './until.js';

export interface LegacyMsgqueue {
  /** wss base URL (append /pushmsg or /popmsg). */
  readonly url: string;
  /** The CA its certificate is signed by. */
  readonly ca: Buffer;
  /** Messages received on /pushmsg, decoded, in arrival order. */
  readonly received: { topic: string; data: string }[];
  /** Frames received on /popmsg (ws-go's consumers send none). */
  readonly popFrames: number;
  /** WebSockets accepted in all. */
  readonly accepted: number;
  /** Sends one legacy frame to every open /popmsg connection; returns how many got it. */
  push(topic: string, data: string): number;
  readonly poppers: number;
  waitFor(predicate: () => boolean): Promise<void>;
}

export async function startLegacyMsgqueue(
  t: Teardown,
  creds = { user: 'hello', password: 'test' },
): Promise<LegacyMsgqueue> {
  const tls = await testTls();
  const expected = 'Basic ' + Buffer.from(`${creds.user}:${creds.password}`).toString('base64');
  const events = new EventEmitter();
  const received: { topic: string; data: string }[] = [];
  const poppers = new Set<WebSocket>();
  const open = new Set<WebSocket>();
  let accepted = 0;
  let popFrames = 0;
  const changed = (): void => void events.emit('change');

  const server = createServer({ cert: tls.cert, key: tls.key });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => false });
  server.on('tlsClientError', () => {});
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'https://localhost').pathname;
    if (path !== '/pushmsg' && path !== '/popmsg') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (req.headers.authorization !== expected) {
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="ws-go"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      accepted++;
      open.add(ws);
      ws.on('close', () => open.delete(ws));
      ws.on('error', () => ws.terminate());
      if (path === '/popmsg') {
        poppers.add(ws);
        ws.on('message', () => void popFrames++);
        ws.on('close', () => {
          poppers.delete(ws);
          changed();
        });
      } else {
        ws.on('message', (frame: Buffer) => {
          try {
            const m = decodeLegacy(frame.toString());
            received.push({ topic: m.topic, data: contentToData(m.content) });
          } catch {
            return;
          }
          changed();
        });
      }
      changed();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  t.teardown(() => {
    for (const ws of open) ws.terminate();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  return {
    url: `wss://localhost:${(server.address() as AddressInfo).port}`,
    ca: tls.ca,
    received,
    get accepted() {
      return accepted;
    },
    get popFrames() {
      return popFrames;
    },
    get poppers() {
      return poppers.size;
    },
    push(topic, data) {
      const frame = encodeLegacy(topic, dataToContent(data));
      for (const ws of poppers) if (ws.readyState === WebSocket.OPEN) ws.send(frame);
      return poppers.size;
    },
    waitFor: (predicate) => untilChange(events, predicate),
  };
}
