/**
 * The transport under the legacy client (wsq.v1 runs on @wsq/client): opening an authenticated TLS WebSocket (failures mapped to
 * ClientError codes before any frame flows) and closing it within a deadline.
 */
import { WebSocket } from 'ws';
import { connectError, upgradeError, type EndpointName } from './errors.js';

export interface SocketOptions {
  user: string;
  password: string;
  ca?: Buffer | undefined;
  insecure?: boolean;
  connectTimeoutMs?: number;
  maxPayloadBytes?: number;
}

/**
 * Resolves with the open socket. `attach` runs synchronously on open, so a frame the server
 * sends right after the upgrade cannot slip past the caller's listeners.
 */
export function openSocket(
  endpoint: EndpointName,
  url: string,
  opts: SocketOptions,
  attach: (ws: WebSocket) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const authorization = 'Basic ' + Buffer.from(`${opts.user}:${opts.password}`).toString('base64');
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, [], {
        headers: { authorization },
        ca: opts.ca,
        rejectUnauthorized: opts.insecure !== true,
        handshakeTimeout: opts.connectTimeoutMs ?? 10_000,
        maxPayload: opts.maxPayloadBytes ?? 16 * 1024 * 1024,
        perMessageDeflate: false,
      });
    } catch (err) {
      reject(connectError(endpoint, url, err as Error));
      return;
    }
    let opened = false;
    ws.on('error', (err) => {
      if (!opened) reject(connectError(endpoint, url, err));
      // After open, 'close' follows every error and reports it.
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      reject(upgradeError(endpoint, url, res.statusCode ?? 0, false));
      ws.terminate();
    });
    ws.once('open', () => {
      opened = true;
      attach(ws);
      resolve(ws);
    });
  });
}

/** Closes with 1000; a server that never answers the close handshake is cut off after `waitMs`. */
export function closeSocket(ws: WebSocket, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => ws.terminate(), waitMs);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'bye');
    else ws.terminate();
  });
}
