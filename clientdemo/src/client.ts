/**
 * A small wsq client: one WebSocket to the publisher, one to the subscriber, either protocol
 * (legacy ws-go frames or wsq.v1). It knows nothing of terminals; the REPL and the script
 * commands sit on top of it.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import { dataToContent, decodeLegacy, decodeServerFrame, encodeLegacy, type ServerFrame } from '@wsq/core';
import { ClientError, type EndpointName } from './errors.js';
import { closeSocket, openSocket } from './socket.js';
import type { Client, ClientOptions, Delivery } from './types.js';

export type {
  Client,
  ClientEvents,
  ClientOptions,
  Delivery,
  Protocol,
  PublishResult,
  SubscribeResult,
} from './types.js';

interface Pending {
  endpoint: EndpointName;
  resolve(frame: ServerFrame, raw: string): void;
  reject(err: ClientError): void;
  timer: NodeJS.Timeout;
}

const CLOSE_WAIT_MS = 2000;

export function createClient(opts: ClientOptions): Client {
  const v1 = opts.protocol === 'v1';
  const events = new EventEmitter();
  const sockets = new Map<EndpointName, WebSocket>();
  const pending = new Map<string, Pending>();
  let nextId = 1;
  let closing = false;

  function open(endpoint: EndpointName, url: string): Promise<WebSocket> {
    return openSocket(endpoint, url, opts, (ws) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary) onFrame(endpoint, String(data));
      });
      ws.once('close', (code, reason) => onClose(endpoint, code, reason.toString()));
    });
  }

  function onFrame(endpoint: EndpointName, raw: string): void {
    if (!v1) {
      if (endpoint !== 'subscriber') return; // a legacy publisher never answers
      try {
        const m = decodeLegacy(raw);
        events.emit('message', { topic: m.topic, text: m.content, raw } satisfies Delivery);
      } catch {
        emitError(
          new ClientError(
            'SERVER_ERROR',
            `${endpoint} sent a frame that is not {"Topic","Content"}: ${raw.slice(0, 80)}`,
          ),
        );
      }
      return;
    }
    let frame: ServerFrame;
    try {
      frame = decodeServerFrame(raw);
    } catch {
      emitError(new ClientError('SERVER_ERROR', `${endpoint} sent an undecodable frame: ${raw.slice(0, 80)}`));
      return;
    }
    switch (frame.op) {
      case 'msg': {
        const text = dataToContent(JSON.stringify(frame.data));
        events.emit('message', { topic: frame.topic, text, raw, seq: frame.seq } satisfies Delivery);
        return;
      }
      case 'ack':
      case 'subscribed':
      case 'unsubscribed':
        settle(frame.id, frame, raw);
        return;
      case 'error': {
        const err = new ClientError('SERVER_ERROR', `${endpoint}: ${frame.code}: ${frame.message}`, {
          detail: frame.code,
        });
        const p = frame.id === undefined ? undefined : pending.get(frame.id);
        if (p) {
          pending.delete(frame.id!);
          clearTimeout(p.timer);
          p.reject(err);
        } else {
          emitError(err);
        }
        return;
      }
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  function emitError(err: ClientError): void {
    if (events.listenerCount('error') > 0) events.emit('error', err);
  }

  function settle(id: string | undefined, frame: ServerFrame, raw: string): void {
    const p = id === undefined ? undefined : pending.get(id);
    if (!p) return; // a late reply to a request that already timed out
    pending.delete(id!);
    clearTimeout(p.timer);
    p.resolve(frame, raw);
  }

  function onClose(endpoint: EndpointName, code: number, reason: string): void {
    sockets.delete(endpoint);
    for (const [id, p] of pending) {
      if (p.endpoint !== endpoint) continue;
      pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new ClientError('CLOSED', `${endpoint}: the connection closed before the reply (${code})`));
    }
    if (!closing) events.emit('close', endpoint, code, reason);
  }

  function socket(endpoint: EndpointName): WebSocket {
    const ws = sockets.get(endpoint);
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      throw new ClientError('NOT_CONNECTED', `not connected to the ${endpoint}`);
    }
    return ws;
  }

  /** Sends a frame; resolves when it is flushed to the socket. */
  function send(endpoint: EndpointName, text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      socket(endpoint).send(text, (err) =>
        err ? reject(new ClientError('CLOSED', `${endpoint}: ${err.message}`)) : resolve(),
      );
    });
  }

  /** Sends a v1 request and waits for the reply carrying its id. */
  function request(
    endpoint: EndpointName,
    id: string,
    text: string,
    onSent?: () => void,
  ): Promise<{ frame: ServerFrame; raw: string }> {
    const ws = socket(endpoint);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new ClientError('TIMEOUT', `${endpoint}: no reply to request ${id} in time`));
      }, opts.replyTimeoutMs ?? 10_000);
      pending.set(id, { endpoint, timer, reject, resolve: (frame, raw) => resolve({ frame, raw }) });
      ws.send(text, (err) => {
        if (!err) return onSent?.();
        pending.delete(id);
        clearTimeout(timer);
        reject(new ClientError('CLOSED', `${endpoint}: ${err.message}`));
      });
    });
  }

  return {
    protocol: opts.protocol,

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
      if (!v1) {
        await send('publisher', encodeLegacy(topic, text));
        o.onSent?.();
        return {};
      }
      const id = o.id ?? randomUUID();
      const frame = JSON.stringify({ op: 'pub', topic, data: text, id });
      const { frame: reply, raw } = await request('publisher', id, frame, o.onSent);
      return { id, seq: reply.op === 'ack' ? reply.seq : undefined, raw };
    },

    async subscribe(pattern, o = {}) {
      if (!v1) {
        await send('subscriber', encodeLegacy(pattern, 'sub'));
        return {};
      }
      const id = `s${nextId++}`;
      const frame = JSON.stringify(
        o.since === undefined ? { op: 'sub', topic: pattern, id } : { op: 'sub', topic: pattern, id, since: o.since },
      );
      const { frame: reply } = await request('subscriber', id, frame);
      return reply.op === 'subscribed' ? { seq: reply.seq, recovered: reply.recovered } : {};
    },

    async unsubscribe(pattern) {
      if (!v1) {
        await send('subscriber', encodeLegacy(pattern, 'unsub'));
        return;
      }
      const id = `u${nextId++}`;
      await request('subscriber', id, JSON.stringify({ op: 'unsub', topic: pattern, id }));
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
