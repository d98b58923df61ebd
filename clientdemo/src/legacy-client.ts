/**
 * The legacy (ws-go) protocol: `{"Topic","Content"}` frames, no acks, no seqs, no replies.
 * @wsq/client speaks wsq.v1 only, so this minimal socket code stays for `--protocol legacy`
 * (the ws-go wire format has nothing to resume or acknowledge, so there is nothing to share).
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { decodeLegacy, encodeLegacy } from '@wsq/core';
import { ClientError, type EndpointName } from './errors.js';
import { closeSocket, openSocket } from './socket.js';
import type { Client, ClientOptions, Delivery } from './types.js';

const CLOSE_WAIT_MS = 2000;

export function createLegacyClient(opts: ClientOptions): Client {
  const events = new EventEmitter();
  const sockets = new Map<EndpointName, WebSocket>();
  let closing = false;

  function open(endpoint: EndpointName, url: string): Promise<WebSocket> {
    return openSocket(endpoint, url, opts, (ws) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary && endpoint === 'subscriber') onFrame(String(data));
      });
      ws.once('close', (code, reason) => {
        sockets.delete(endpoint);
        if (!closing) events.emit('close', endpoint, code, reason.toString());
      });
    });
  }

  function onFrame(raw: string): void {
    try {
      const m = decodeLegacy(raw);
      events.emit('message', { topic: m.topic, text: m.content, raw } satisfies Delivery);
    } catch {
      if (events.listenerCount('error') === 0) return;
      const err = new ClientError(
        'SERVER_ERROR',
        `subscriber sent a frame that is not {"Topic","Content"}: ${raw.slice(0, 80)}`,
      );
      events.emit('error', err);
    }
  }

  /** Sends a frame; resolves when it is flushed to the socket. */
  function send(endpoint: EndpointName, text: string): Promise<void> {
    const ws = sockets.get(endpoint);
    if (!ws || ws.readyState !== ws.OPEN) {
      return Promise.reject(new ClientError('NOT_CONNECTED', `not connected to the ${endpoint}`));
    }
    return new Promise((resolve, reject) => {
      ws.send(text, (err) => (err ? reject(new ClientError('CLOSED', `${endpoint}: ${err.message}`)) : resolve()));
    });
  }

  return {
    protocol: 'legacy',

    async connect(which = { publish: true, subscribe: true }) {
      const wanted: [EndpointName, string][] = [];
      if (which.publish) wanted.push(['publisher', opts.publishUrl]);
      if (which.subscribe) wanted.push(['subscriber', opts.subscribeUrl]);
      const results = await Promise.allSettled(wanted.map(([name, url]) => open(name, url)));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') sockets.set(wanted[i]![0], r.value);
      });
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        await this.close();
        throw failed.reason;
      }
    },

    async publish(topic, text, o = {}) {
      await send('publisher', encodeLegacy(topic, text));
      o.onSent?.();
      return {};
    },

    async subscribe(pattern) {
      await send('subscriber', encodeLegacy(pattern, 'sub'));
      return {};
    },

    async unsubscribe(pattern) {
      await send('subscriber', encodeLegacy(pattern, 'unsub'));
    },

    on(event, fn) {
      events.on(event, fn);
      return () => events.off(event, fn);
    },

    async close() {
      closing = true;
      await Promise.all([...sockets.values()].map((ws) => closeSocket(ws, CLOSE_WAIT_MS)));
    },
  };
}
