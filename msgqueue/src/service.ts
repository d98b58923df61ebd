/**
 * The msgqueue service: a durable FIFO journal behind /pushmsg (producers) and /popmsg
 * (consumers), each speaking `wsq.link.v3` or, without a subprotocol, ws-go's legacy link.
 * Building it opens the data directory; listen() starts serving; close() ends every link
 * with 1001, then writes the cursors and fsyncs the journal.
 */
import type { AddressInfo } from 'node:net';
import {
  CLOSE,
  serviceAuthenticator,
  createMetrics,
  createServiceServer,
  LINK_PROTOCOL,
  frontTls,
  openapiDocument,
  type Authenticator,
  type BaseMetrics,
  type Logger,
} from '@wsq/core';
import { consumerAdminRoutes } from './consumers/admin-api.js';
import type { ConsumerLifecycle } from './consumers/lifecycle.js';
import { serveConsumerLink } from './links/consumer-link.js';
import { serveLegacyPop, serveLegacyPush } from './links/legacy-link.js';
import type { MsgqueueConfig } from './options.js';
import { serveProducerLink } from './links/producer-link.js';
import { POP_PATH, PUSH_PATH, type QueueContext } from './links/queue-context.js';
import { openQueueStore, type QueueStore } from './store.js';

export { CURSORS_SUBDIR, JOURNAL_SUBDIR } from './store.js';

export interface MsgqueueDeps {
  log: Logger;
  metrics?: BaseMetrics;
  /** Clock for dedupe windows and consumer last-seen times (tests). */
  now?: () => number;
  /**
   * The storage to serve (wsq-server shares it with the embedded home). Its owner closes it;
   * without it the msgqueue opens its own from config and closes it in close().
   */
  store?: QueueStore;
  /** The users (wsq-server shares one Authenticator); its owner closes it. */
  auth?: Authenticator;
  /** Whether the process can do its job beyond this port listening (wsq-server: all three ports). */
  isReady?: () => boolean;
}

export interface Msgqueue {
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Re-reads the users file and the TLS certificate (SIGHUP). */
  reload(): void;
  readonly metrics: BaseMetrics;
  /** The durable consumers: list, delete, expiry sweep (the admin API's backend). */
  readonly consumers: ConsumerLifecycle;
}

export async function createMsgqueue(config: MsgqueueConfig, deps: MsgqueueDeps): Promise<Msgqueue> {
  const { log } = deps;
  const tls = frontTls({ ...config.tlsPaths, tls: config.tls });
  const metrics = deps.metrics ?? deps.store?.metrics ?? createMetrics('msgqueue');
  const { auth, own: ownAuth } = await serviceAuthenticator(log, config, deps.auth);
  let store: QueueStore;
  try {
    store = deps.store ?? (await openQueueStore(config, { log, metrics, now: deps.now }));
  } catch (err) {
    if (ownAuth) auth.close();
    throw err;
  }
  const ownStore = deps.store === undefined;
  const q: QueueContext = store;

  let listening = false;
  const server = createServiceServer({
    service: 'msgqueue',
    limits: config.limits,
    ...tls,
    auth,
    log,
    metrics,
    isReady: () => listening && (deps.isReady?.() ?? true),
    api: consumerAdminRoutes(store.consumers),
    openapi: openapiDocument(),
    routes: [
      {
        path: PUSH_PATH,
        protocols: [LINK_PROTOCOL],
        legacy: true,
        onConnection: (ws, ctx) =>
          ctx.protocol === LINK_PROTOCOL ? serveProducerLink(ws, ctx, q) : serveLegacyPush(ws, ctx, q),
      },
      {
        path: POP_PATH,
        protocols: [LINK_PROTOCOL],
        legacy: true,
        onConnection: (ws, ctx) =>
          ctx.protocol === LINK_PROTOCOL ? serveConsumerLink(ws, ctx, q) : serveLegacyPop(ws, ctx, q),
      },
    ],
  });

  let closing: Promise<void> | undefined;
  return {
    metrics,
    consumers: store.consumers,
    async listen() {
      const address = await server.listen();
      listening = true;
      store.consumers.start();
      return address;
    },
    close() {
      store.consumers.stop();
      closing ??= shutdown(server.close.bind(server), ownAuth ? auth : undefined, ownStore ? store : undefined).finally(
        () => {
          listening = false;
        },
      );
      return closing;
    },
    reload() {
      if (ownAuth) auth.reload();
      server.reloadTls();
    },
  };
}

async function shutdown(
  closeServer: (code: number) => Promise<void>,
  auth: Authenticator | undefined,
  store: QueueStore | undefined,
): Promise<void> {
  // Links first (no new appends or acks), then the cursors and the journal's final fsync.
  await closeServer(CLOSE.GOING_AWAY);
  auth?.close();
  await store?.close();
}
