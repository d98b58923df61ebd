/** The Node platform: `ws`, Basic Auth in the upgrade headers, the CA to trust, a frame size limit. */
import { WebSocket } from 'ws';
import { V1_PROTOCOL } from './frames.js';
import type { Platform, Socket, SocketHandlers, SocketRequest } from './transport.js';

export interface NodeTlsOptions {
  /** PEM CA certificate(s) to trust instead of the system store. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Skip certificate verification (testing only). */
  insecure?: boolean;
  /** Largest frame accepted from a server (default 16 MiB; ws alone would take 100 MiB). */
  maxPayloadBytes?: number;
}

export const NODE_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export function createNodePlatform(tls: NodeTlsOptions = {}): Platform {
  return {
    canSendHeaders: true,
    openSocket(req: SocketRequest, h: SocketHandlers): Socket {
      const headers: Record<string, string> = {};
      if (req.basic) {
        headers.authorization =
          'Basic ' + Buffer.from(`${req.basic.user}:${req.basic.password}`, 'utf8').toString('base64');
      }
      const ws = new WebSocket(req.url, [V1_PROTOCOL], {
        headers,
        ca: tls.ca,
        rejectUnauthorized: tls.insecure !== true,
        maxPayload: tls.maxPayloadBytes ?? NODE_MAX_PAYLOAD_BYTES,
        perMessageDeflate: false,
      });
      ws.on('open', () => h.open());
      ws.on('message', (data, isBinary) => {
        if (!isBinary) h.message(data.toString());
      });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        h.fail(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode ?? 0 }));
        ws.terminate();
      });
      ws.on('error', (err) => h.fail(err));
      ws.on('close', (code, reason) => h.close(code, reason.toString()));
      return {
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        terminate: () => ws.terminate(),
      };
    },
  };
}
