/**
 * The publisher: clients publish on /publish (wsq.v1 or legacy ws-go frames); every message
 * is appended to the queue through the QueueProducer it opens on the injected QueueHome, whose
 * bounded outbox holds messages while the queue is away. /readyz follows the queue's state.
 * Building starts nothing; listen() opens the producer and the port.
 */
import type { AddressInfo } from 'node:net';
import {
  CLOSE,
  ProtocolError,
  V1_PROTOCOL,
  serviceAuthenticator,
  createMetrics,
  createServiceServer,
  createTicketStore,
  frontTls,
  openapiDocument,
  type AppendDone,
  type AppendRequest,
  type Authenticator,
  type BaseMetrics,
  type LinkState,
  type Logger,
  type QueueHome,
  type QueueProducer,
} from '@wsq/core';
import { createBackpressure, waterMarks } from './backpressure.js';
import { PUBLISH_PATH, handlePublishConnection, type PublishEnv } from './connection.js';
import { httpPublishRoute } from './http-publish.js';
import { publisherMetrics } from './metrics.js';
import type { PublisherConfig } from './options.js';

export interface PublisherDeps {
  log: Logger;
  metrics?: BaseMetrics;
  /** The queue to append to (its producer side is opened by listen()). */
  queue: Pick<QueueHome, 'producer' | 'where'>;
  /** Told of every change of the queue's state (readiness follows 'up'). */
  onLinkState?(state: LinkState, detail?: string): void;
  /** The users (wsq-server shares one Authenticator among its ports); its owner closes it. */
  auth?: Authenticator;
  /** Whether the process can do its job beyond this port (wsq-server: all three ports listen). */
  isReady?: () => boolean;
}

export interface Publisher {
  listen(): Promise<AddressInfo>;
  /** Stops taking messages, waits up to drainTimeoutMs for in-flight ones, closes clients with 1001, closes the link. */
  close(): Promise<void>;
  /** Re-reads the users file and the TLS certificate (SIGHUP). */
  reload(): void;
  /** The msgqueue link's state ('closed' before listen()). */
  readonly linkState: LinkState;
  /** Messages accepted from clients and not yet settled by the queue. */
  readonly inflight: number;
}

export async function createPublisher(config: PublisherConfig, deps: PublisherDeps): Promise<Publisher> {
  const { log } = deps;
  // Throws ConfigError('cert' | 'key' | 'ca'): the process exits 2 before anything starts.
  const tls = frontTls(config);
  const { auth, own: ownAuth } = await serviceAuthenticator(log, config, deps.auth);
  const metrics = publisherMetrics(deps.metrics ?? createMetrics('publisher'), inflightNow);
  let producer: QueueProducer | undefined;
  let closing = false;
  let closed: Promise<void> | undefined;
  let onDrained: (() => void) | undefined;
  // While the link is up, publishing sockets pause above half the outbox and resume below a quarter.
  const backpressure = createBackpressure(waterMarks(config.outboxMessages, config.outboxBytes), {
    onPause: () => metrics.backpressurePauses.inc(),
  });

  /** Messages accepted from clients and not yet settled by the queue: the producer's outbox. */
  function inflightNow(): number {
    return producer?.outboxDepth ?? 0;
  }

  const NOT_LINKED = new ProtocolError('UNAVAILABLE', 'not linked to the message queue yet');

  function offer<C>(msg: AppendRequest, done: AppendDone<C>, ctx: C): ProtocolError | undefined {
    return producer ? producer.offer(msg, done, ctx) : NOT_LINKED;
  }

  /** Counted and timed once the queue journaled it (the producer's onJournaled). */
  function journaled(acceptedAt: number, journaledAt: number): void {
    metrics.published.n++;
    metrics.ackSeconds.observe((journaledAt - acceptedAt) / 1000);
  }

  /** The outbox changed: backpressure, and the end of a drain at shutdown. */
  function onDepth(depth: number, bytes: number): void {
    backpressure.onDepth(depth, bytes);
    if (depth === 0) onDrained?.();
  }

  const env: PublishEnv = {
    offer,
    accepting: () => !closing,
    metrics,
    backpressure,
    limits: {
      maxBufferedBytes: config.maxBufferedBytes,
      publishRatePerSec: config.publishRatePerSec,
      publishBurst: config.publishBurst,
    },
  };

  const server = createServiceServer({
    service: 'publisher',
    limits: config,
    ...tls,
    auth,
    log,
    metrics,
    isReady: () => !closing && producer?.state === 'up' && (deps.isReady?.() ?? true),
    tickets: createTicketStore(),
    api: [
      httpPublishRoute({
        ...env,
        maxPayloadBytes: config.maxPayloadBytes,
        outboxRoom: () => config.outboxMessages - inflightNow(),
      }),
    ],
    openapi: openapiDocument(),
    routes: [
      {
        path: PUBLISH_PATH,
        protocols: [V1_PROTOCOL],
        legacy: true,
        onConnection(ws, ctx) {
          if (closing) {
            ws.close(CLOSE.GOING_AWAY, 'server shutting down');
            return;
          }
          handlePublishConnection(ws, ctx, env);
        },
      },
    ],
  });

  function onLinkState(state: LinkState, detail?: string): void {
    if (state === 'up') log.info('linked to the msgqueue');
    else if (state === 'down') log.warn({ detail }, 'msgqueue link down; holding messages in the outbox');
    else log.debug({ state, detail }, 'msgqueue link state');
    metrics.linkUp.set(state === 'up' ? 1 : 0);
    backpressure.setLinkUp(state === 'up');
    deps.onLinkState?.(state, detail);
  }

  /** Resolves when every accepted message settled, or after `ms`. */
  function drain(ms: number): Promise<void> {
    if (inflightNow() === 0 || ms === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        onDrained = undefined;
        resolve();
      }
      onDrained = done;
    });
  }

  async function shutdown(): Promise<void> {
    closing = true;
    // Paused sockets must read again to see their refusals and the close handshake.
    backpressure.stop();
    const inflight = inflightNow();
    if (inflight > 0) log.info({ inflight }, 'waiting for the msgqueue to take in-flight messages');
    await drain(config.drainTimeoutMs);
    // The last settlements' replies (acks) are sent by promise callbacks queued behind ours.
    await new Promise((resolve) => setImmediate(resolve));
    // Whatever is still in flight was never acked to its client, so nothing acked is lost.
    const left = inflightNow();
    if (left > 0)
      log.warn({ inflight: left }, 'closing with messages the msgqueue has not journaled; they were not acked');
    await server.close(CLOSE.GOING_AWAY, 'server shutting down');
    await producer?.close();
    if (ownAuth) auth.close();
  }

  return {
    get linkState() {
      return producer?.state ?? 'closed';
    },
    get inflight() {
      return inflightNow();
    },
    async listen() {
      if (producer || closing) throw new Error('listen() may be called once, before close()');
      const p = deps.queue.producer({
        onState: onLinkState,
        outboxMessages: config.outboxMessages,
        outboxBytes: config.outboxBytes,
        lingerMs: config.queueLingerMs,
        onDepth,
        onJournaled: journaled,
      });
      producer = p;
      try {
        return await server.listen();
      } catch (err) {
        await p.close();
        if (ownAuth) auth.close();
        throw err;
      }
    },
    close() {
      closed ??= shutdown();
      return closed;
    },
    reload() {
      server.reloadTls();
      if (!ownAuth) return;
      log.info('reloading the users file');
      auth.reload();
    },
  };
}
