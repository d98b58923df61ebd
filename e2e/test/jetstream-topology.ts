/**
 * Where the queue of an end-to-end test lives, as a small object the tests take: start() runs
 * the queue and the services on it; killQueue()/restartQueue() take the queue away and bring it
 * back. The JetStream topologies run their own nats-server processes (never the shared 4222).
 */
import { natsServerBinary, startNats, startNatsCluster, type NatsNode, type Teardown } from '@wsq/core/testing';
import { createTrio, type ServiceName, type Trio } from './harness.js';

export interface Deployment {
  trio: Trio;
  /** The queue's URLs as --queue takes them. */
  queueUrl: string;
  nodes: NatsNode[];
  killQueue(): Promise<void>;
  restartQueue(): Promise<void>;
  /** Another trio (publisher + subscriber with its own --name) on the same queue. */
  addTrio(t: Teardown, name: string, extra?: Partial<Record<ServiceName, string[]>>): Promise<Trio>;
}

export interface Topology {
  readonly name: string;
  /** Why it cannot run here, or false. */
  readonly skip: string | false;
  start(t: Teardown, extra?: Partial<Record<ServiceName, string[]>>): Promise<Deployment>;
}

/** publisher and subscriber on `nodes` nats-servers (one cluster when more than one), a stream of `replicas`. */
export function jetstreamTopology(nodes = 1, replicas = 1): Topology {
  return {
    name: `jetstream-${nodes}x-r${replicas}`,
    skip: natsServerBinary() ? false : 'nats-server not found (Debian: apt-get install nats-server)',
    async start(t, extra = {}) {
      const servers = nodes === 1 ? [await startNats(t)] : await startNatsCluster(t, nodes);
      const queueUrl = servers.map((n) => n.url).join(',');
      const queue = {
        args: () => [
          '--queue',
          queueUrl,
          '--stream-replicas',
          String(replicas),
          '--reconnect-min-ms',
          '20',
          '--reconnect-max-ms',
          '500',
        ],
      };
      const trio = await createTrio(t, extra, queue);
      return {
        trio,
        queueUrl,
        nodes: servers,
        async killQueue() {
          await Promise.all(servers.map((n) => n.kill9()));
        },
        async restartQueue() {
          await Promise.all(servers.map((n) => n.restart()));
        },
        addTrio(t2, name, more = {}) {
          return createTrio(t2, { ...more, subscriber: ['--name', name, ...(more.subscriber ?? [])] }, queue);
        },
      };
    },
  };
}
