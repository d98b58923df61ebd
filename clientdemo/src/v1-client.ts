/**
 * `--protocol v1` on @wsq/client: the SDK reconnects with backoff, re-sends unacknowledged
 * publishes with their ids and resumes every subscription with `since`. This adapter only
 * turns the SDK's WsqError codes into the demo's ClientError codes and hints, and its messages
 * into the lines clientdemo prints.
 */
import { EventEmitter } from 'node:events';
import { connect, WsqError, type Subscription, type Wsq } from '@wsq/client';
import { dataToContent } from '@wsq/core';
import { ClientError, connectError, upgradeError, type EndpointName } from './errors.js';
import type { Client, ClientOptions, Delivery } from './types.js';

/** A WsqError as the demo's ClientError (the CLI prints its message and hint). */
export function toClientError(err: unknown, opts: ClientOptions): ClientError {
  if (!(err instanceof WsqError)) return new ClientError('CLOSED', (err as Error).message);
  const endpoint: EndpointName = err.endpoint ?? 'publisher';
  const url = endpoint === 'publisher' ? opts.publishUrl : opts.subscribeUrl;
  switch (err.code) {
    case 'UNAUTHORIZED':
    case 'FORBIDDEN_ORIGIN':
    case 'REJECTED':
      return upgradeError(endpoint, url, err.status ?? 0, true);
    case 'UNTRUSTED_CERT':
    case 'UNREACHABLE':
      return connectError(endpoint, url, Object.assign(new Error(err.message), { code: err.detail }));
    case 'CONNECT_TIMEOUT':
    case 'ACK_TIMEOUT':
      return new ClientError('TIMEOUT', `${err.message}`);
    case 'CLOSED':
    case 'POLICY':
    case 'PROTOCOL':
    case 'MAX_PENDING':
    case 'DUPLICATE_SUBSCRIPTION':
    case 'BAD_ARGUMENT':
      return new ClientError('CLOSED', err.message);
    default:
      // An error frame of the server: its code is the detail.
      return new ClientError('SERVER_ERROR', err.message, { detail: err.code });
  }
}

export function createV1Client(opts: ClientOptions): Client {
  const events = new EventEmitter();
  const subs = new Map<string, Subscription>();
  let wsq: Wsq | undefined;
  let closing = false;

  function need(endpoint: EndpointName, url: string | undefined): Wsq {
    if (!wsq || url === undefined) throw new ClientError('NOT_CONNECTED', `not connected to the ${endpoint}`);
    return wsq;
  }
  let opened: { publishUrl?: string; subscribeUrl?: string } = {};

  return {
    protocol: 'v1',

    async connect(which = { publish: true, subscribe: true }) {
      opened = {
        ...(which.publish ? { publishUrl: opts.publishUrl } : {}),
        ...(which.subscribe ? { subscribeUrl: opts.subscribeUrl } : {}),
      };
      try {
        wsq = await connect({
          ...opened,
          user: opts.user,
          password: opts.password,
          ca: opts.ca,
          insecure: opts.insecure,
          connectTimeoutMs: opts.connectTimeoutMs,
          ackTimeoutMs: opts.replyTimeoutMs,
          maxPayloadBytes: opts.maxPayloadBytes,
        });
      } catch (err) {
        throw toClientError(err, opts);
      }
      wsq.on('state', (s) => {
        if (!closing) events.emit('state', s);
      });
      wsq.on('error', (err) => {
        if (closing) return;
        if (wsq?.state === 'closed' || err.closeCode !== undefined) {
          events.emit('close', err.endpoint ?? 'subscriber', err.closeCode ?? 1006, err.message);
        } else if (events.listenerCount('error') > 0) {
          events.emit('error', toClientError(err, opts));
        }
      });
    },

    async publish(topic, text, o = {}) {
      const client = need('publisher', opened.publishUrl);
      const acked = client.publish(topic, text, o.id === undefined ? {} : { id: o.id });
      o.onSent?.(); // sent, or queued until the publisher is back
      try {
        const { id, seq } = await acked;
        return { id, seq, raw: JSON.stringify({ op: 'ack', id, seq }) };
      } catch (err) {
        throw toClientError(err, opts);
      }
    },

    subscribe(pattern, o = {}) {
      let sub: Subscription;
      try {
        sub = need('subscriber', opened.subscribeUrl).subscribe(
          pattern,
          o.since === undefined ? {} : { since: o.since },
        );
      } catch (err) {
        return Promise.reject(err instanceof ClientError ? err : toClientError(err, opts));
      }
      subs.set(pattern, sub);
      sub.on('message', (m) => {
        const raw = JSON.stringify({ op: 'msg', topic: m.topic, seq: m.seq, data: m.data, ts: m.ts });
        const text = dataToContent(JSON.stringify(m.data));
        events.emit('message', { topic: m.topic, text, raw, seq: m.seq } satisfies Delivery);
      });
      sub.on('gap', (g) => {
        if (events.listenerCount('error') === 0) return;
        const err = new ClientError(
          'SERVER_ERROR',
          `subscriber: retention no longer reaches back to seq ${g.since} for ${g.pattern}: messages may be missing`,
          { detail: 'GAP' },
        );
        events.emit('error', err);
      });
      return new Promise((resolve, reject) => {
        const offOk = sub.on('subscribed', (r) => {
          offOk();
          offErr();
          resolve({ seq: r.seq, recovered: r.recovered });
        });
        const offErr = sub.on('error', (err) => {
          offOk();
          offErr();
          subs.delete(pattern);
          reject(toClientError(err, opts));
        });
      });
    },

    async unsubscribe(pattern) {
      need('subscriber', opened.subscribeUrl);
      const sub = subs.get(pattern);
      subs.delete(pattern);
      await sub?.unsubscribe();
    },

    on(event, fn) {
      events.on(event, fn);
      return () => events.off(event, fn);
    },

    async close() {
      closing = true;
      await wsq?.close();
    },
  };
}
