/**
 * The subscriber: consumes the injected queue with a durable cursor and fans messages out to
 * the WebSockets subscribed on /subscribe (wsq.v1 and legacy ws-go clients). Building it opens
 * the consumer side of the queue (which connects nothing until started); listen() opens the
 * port and starts consuming.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  V1_PROTOCOL,
  serviceAuthenticator,
  warnAboutUsers,
  createMetrics,
  createServiceServer,
  createTicketStore,
  frontTls,
  openapiDocument,
  type Authenticator,
  type BaseMetrics,
  type ConnectionContext,
  type LinkState,
  type Logger,
  type QueueConsumer,
  type QueueHome,
  type ServiceHandle,
} from '@wsq/core';
import type { WebSocket } from 'ws';
import { Client } from './client.js';
import { createDemoPage } from './demo-page.js';
import { Fanout } from './fanout.js';
import { ENDPOINT, onBinary, onLegacyText, onV1Text, type FrameDeps } from './frames.js';
import { subscriberMetrics } from './metrics.js';
import type { SubscriberConfig } from './options.js';
import { Limiter } from './resume.js';
import { Router, type RouterStats } from './router.js';
import { httpHistoryRoute } from './http-history.js';
import { createSseStreams } from './sse.js';

export interface SubscriberDeps {
  log: Logger;
  metrics?: BaseMetrics;
  /** The queue to consume (its consumer side is opened here, started by listen()). */
  queue: Pick<QueueHome, 'consumer' | 'where'>;
  /** Who may connect; by default built from `config.users` and `config.demo` (and closed with the service). */
  auth?: Authenticator;
  /** Told of every state change of the queue (readiness follows 'up'). */
  onLinkState?: (state: LinkState, detail?: string) => void;
  /** Whether the process can do its job beyond this port (wsq-server: all three ports listen). */
  isReady?: () => boolean;
}

export interface Subscriber extends ServiceHandle {
  listen(): Promise<AddressInfo>;
  /** Closes every client with 1001, then the queue consumer. */
  close(): Promise<void>;
  /** Re-reads the users file. */
  reload(): void;
  /** Open connections and what the index holds: all zero once every client left. */
  stats(): RouterStats;
  readonly queue: QueueConsumer;
  /** Emits 'change' after subscriptions changed or a connection left. */
  readonly events: EventEmitter;
}

export async function createSubscriber(config: SubscriberConfig, deps: SubscriberDeps): Promise<Subscriber> {
  const { log } = deps;
  const base = deps.metrics ?? createMetrics('subscriber');
  const metrics = subscriberMetrics(base);
  const tls = frontTls(config);
  const { auth, own: ownAuth } = await serviceAuthenticator(log, config, deps.auth);
  // The subscriber says what its own --users/--demo mean even when handed an authenticator
  // (wsq-server, tests): its demo user is the one the browser demo signs in with.
  if (!ownAuth) warnAboutUsers(log, config);

  let everUp = false;
  const queue = deps.queue.consumer({
    name: config.name,
    window: config.consumerWindow,
    onState(state, detail) {
      if (state === 'up') everUp = true;
      metrics.linkUp.set(state === 'up' ? 1 : 0);
      deps.onLinkState?.(state, detail);
    },
  });

  const events = new EventEmitter();
  const router = new Router(
    metrics,
    log,
    () => queue.lastSeq,
    () => events.emit('change'),
  );
  const fanout = new Fanout(router, {
    budgetBytes: Math.floor(config.maxBufferedBytes / 2),
    maxBacklogMessages: config.consumerWindow,
    onHandedOver: (seq) => queue.ack(seq),
    metrics,
    log,
  });
  const limiter = new Limiter(config.maxConcurrentReplays);
  const frameDeps: FrameDeps = {
    router,
    queue,
    metrics,
    limiter,
    replayBatchMessages: config.replayBatchMessages,
    maxSubscriptionsPerConnection: config.maxSubscriptionsPerConnection,
    positionKnown: () => router.lastDelivered > 0 || everUp || queue.state === 'up',
  };
  const clientLimits = {
    maxBufferedBytes: config.maxBufferedBytes,
    maxReplayBufferMessages: config.maxReplayBufferMessages,
  };

  const sse = createSseStreams({
    frames: frameDeps,
    limits: clientLimits,
    pingIntervalMs: config.pingIntervalMs,
    maxStreams: config.maxConnections,
  });

  function onConnection(ws: WebSocket, ctx: ConnectionContext): void {
    const mode = ctx.protocol === V1_PROTOCOL ? 'v1' : 'legacy';
    const client = new Client(ws, mode, ctx.principal, ctx.log, clientLimits, (c, reason, dropped) =>
      router.onKick(c, reason, dropped),
    );
    router.attach(client);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (client.gone) return;
      try {
        if (isBinary) onBinary(frameDeps, client);
        else if (mode === 'v1') onV1Text(frameDeps, client, data.toString());
        else onLegacyText(frameDeps, client, data.toString());
      } catch (err) {
        ctx.log.error({ err }, 'frame handler failed');
        base.closes.inc({ reason: 'internal' });
        client.close(1011, 'internal error');
        router.detach(client);
      }
    });
    ws.on('close', () => {
      router.detach(client);
      client.closed();
    });
  }

  const server = createServiceServer({
    service: 'subscriber',
    limits: {
      host: config.host,
      port: config.port,
      maxPayloadBytes: config.maxPayloadBytes,
      pingIntervalMs: config.pingIntervalMs,
      allowedOrigins: config.allowedOrigins,
      maxConnections: config.maxConnections,
      maxConnectionsPerUser: config.maxConnectionsPerUser,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      metricsAuth: config.metricsAuth,
      perMessageDeflate: config.perMessageDeflate,
    },
    ...tls,
    auth,
    log,
    metrics: base,
    isReady: () => queue.state === 'up' && (deps.isReady?.() ?? true),
    tickets: createTicketStore(),
    api: [httpHistoryRoute({ queue, limiter, sse, replayBatchMessages: config.replayBatchMessages })],
    openapi: openapiDocument(),
    routes: [{ path: ENDPOINT, protocols: [V1_PROTOCOL], legacy: true, onConnection }],
    // --demo also serves the browser demo page at /demo/.
    ...(config.demo ? { http: createDemoPage() } : {}),
  });

  let started = false;
  let closing: Promise<void> | undefined;
  return {
    queue,
    events,
    stats: () => router.stats(),
    async listen() {
      const address = await server.listen();
      if (!started) {
        started = true;
        queue.start((batch) => fanout.enqueue(batch));
        log.info({ name: config.name, queue: deps.queue.where }, 'consuming from the queue');
      }
      return address;
    },
    close() {
      closing ??= (async () => {
        await server.close();
        fanout.close();
        await queue.close();
        if (ownAuth) auth.close();
      })();
      return closing;
    },
    reload() {
      server.reloadTls();
      if (!ownAuth) return;
      auth.reload();
      log.info('users file reloaded');
    },
  };
}
