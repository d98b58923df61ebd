/**
 * wsq-server: the msgqueue, the publisher and the subscriber in one process (the monolithic
 * mode, as Loki's -target=all). The same factories as the trio, wired differently: the
 * msgqueue's storage is opened once, served on the queue port (/pushmsg, /popmsg) and handed
 * to publisher and subscriber as the embedded home, so nothing crosses a link between them.
 * One users file (one Authenticator), one metrics registry served on every port, and probes
 * on every port: ready once the journal is open and all three ports listen.
 */
import type { AddressInfo } from 'node:net';
import { createMetrics, serviceAuthenticator, type BaseMetrics, type Logger } from '@wsq/core';
import { createMsgqueue, embeddedQueueHome, openQueueStore, type EmbeddedHomeOptions } from '@wsq/msgqueue';
import { createPublisher } from '@wsq/publisher';
import { createSubscriber } from '@wsq/subscriber';
import type { ServerConfig } from './options.js';

export interface ServerDeps {
  log: Logger;
  metrics?: BaseMetrics;
  /** Clock for dedupe windows (tests). */
  now?: () => number;
  /** Retry backoff of the embedded home (tests shorten it). */
  home?: EmbeddedHomeOptions;
}

export interface ServerAddresses {
  queue: AddressInfo;
  publish: AddressInfo;
  subscribe: AddressInfo;
}

export interface WsqServer {
  /** Listens on the queue port, then the publish and subscribe ports; resolves with the queue port's address. */
  listen(): Promise<AddressInfo>;
  /** All three addresses once listen() resolved. */
  readonly addresses: ServerAddresses | undefined;
  /** Publisher first (drains its outbox into the journal), then the subscriber, then the links and the journal. */
  close(): Promise<void>;
  /** Re-reads the users file (SIGHUP), for every port at once. */
  reload(): void;
  readonly metrics: BaseMetrics;
}

export async function createServer(config: ServerConfig, deps: ServerDeps): Promise<WsqServer> {
  const metrics = deps.metrics ?? createMetrics('server');
  const log = deps.log;
  const settings = config.msgqueue;
  const { auth } = await serviceAuthenticator(log, settings);
  let addresses: ServerAddresses | undefined;
  const isReady = (): boolean => addresses !== undefined;
  const parts: { close(): Promise<void> }[] = [];
  try {
    const store = await openQueueStore(settings, { log: log.child({ part: 'msgqueue' }), metrics, now: deps.now });
    parts.push(store);
    const msgqueue = await createMsgqueue(settings, {
      log: log.child({ part: 'msgqueue' }),
      metrics,
      store,
      auth,
      isReady,
    });
    const home = embeddedQueueHome(store, log, deps.home);
    const publisher = await createPublisher(config.publisher, {
      log: log.child({ part: 'publisher' }),
      metrics,
      queue: home,
      auth,
      isReady,
    });
    const subscriber = await createSubscriber(config.subscriber, {
      log: log.child({ part: 'subscriber' }),
      metrics,
      queue: home,
      auth,
      isReady,
    });
    const listening = (paths: string, address: AddressInfo): AddressInfo => {
      log.info({ paths, port: address.port }, `${paths} listening on https://${address.address}:${address.port}`);
      return address;
    };
    let closing: Promise<void> | undefined;
    return {
      metrics,
      get addresses() {
        return addresses;
      },
      async listen() {
        const queue = listening('/pushmsg, /popmsg', await msgqueue.listen());
        const publish = listening('/publish', await publisher.listen());
        const subscribe = listening('/subscribe', await subscriber.listen());
        addresses = { queue, publish, subscribe };
        log.info(
          { queuePort: queue.port, publishPort: publish.port, subscribePort: subscribe.port },
          'wsq-server listening',
        );
        return queue;
      },
      close() {
        closing ??= (async () => {
          addresses = undefined;
          const results = await Promise.allSettled([publisher.close(), subscriber.close()]);
          results.push(...(await Promise.allSettled([msgqueue.close()])));
          results.push(...(await Promise.allSettled([store.close()])));
          auth.close();
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) throw failed.reason;
        })();
        return closing;
      },
      reload() {
        log.info('reloading the users file and the TLS certificates');
        auth.reload();
        for (const part of [msgqueue, publisher, subscriber]) part.reload();
      },
    };
  } catch (err) {
    for (const part of parts) await part.close().catch(() => undefined);
    auth.close();
    throw err;
  }
}
