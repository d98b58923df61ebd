/**
 * The wsq deployments one bench run measures, from `--topology` and `--queue`: the trio once
 * per queue home (the msgqueue, JetStream R1 on the bench's own nats-server, JetStream R3 on a
 * three-node cluster), and wsq-server once (its queue lives inside it). Pure: starting them is
 * start-wsq.ts's work.
 */
import { ConfigError } from '@wsq/core';

export const TOPOLOGIES = ['trio', 'server'] as const;
export type Topology = (typeof TOPOLOGIES)[number];
export const QUEUE_HOMES = ['msgqueue', 'jetstream', 'jetstream-r3'] as const;
export type QueueHome = (typeof QUEUE_HOMES)[number];

/** One wsq deployment the bench starts. */
export type Deployment = { readonly topology: 'trio'; readonly queue: QueueHome } | { readonly topology: 'server' };

export const DEPLOYMENT_IDS = ['trio-msgqueue', 'trio-jetstream', 'trio-jetstream-r3', 'server'] as const;
/** A deployment's name in results and JSON. */
export type DeploymentId = (typeof DEPLOYMENT_IDS)[number];

/** How a deployment is named in the tables when a run has several. */
export const DEPLOYMENT_LABELS: Readonly<Record<DeploymentId, string>> = {
  'trio-msgqueue': 'trio, msgqueue',
  'trio-jetstream': 'trio, JetStream R1',
  'trio-jetstream-r3': 'trio, JetStream R3',
  server: 'wsq-server',
};

/** Replicas of wsq's stream on each JetStream home. */
export const STREAM_REPLICAS: Readonly<Record<Exclude<QueueHome, 'msgqueue'>, number>> = {
  jetstream: 1,
  'jetstream-r3': 3,
};

export function deploymentId(d: Deployment): DeploymentId {
  switch (d.topology) {
    case 'server':
      return 'server';
    case 'trio':
      return `trio-${d.queue}`;
    default: {
      const never: never = d;
      throw new Error(`unknown deployment ${JSON.stringify(never)}`);
    }
  }
}

/** The "starting …" line's words for a deployment. */
export function describeDeployment(d: Deployment): string {
  if (d.topology === 'server') return 'wsq-server (one process)';
  switch (d.queue) {
    case 'msgqueue':
      return 'msgqueue, publisher and subscriber';
    case 'jetstream':
      return 'publisher and subscriber on JetStream';
    case 'jetstream-r3':
      return 'publisher and subscriber on JetStream R3 (a three-node nats-server cluster)';
  }
}

/** Whether a deployment keeps its queue on a nats-server (the bench's own, or a cluster it starts). */
export function needsNats(d: Deployment): boolean {
  return d.topology === 'trio' && d.queue !== 'msgqueue';
}

/** Each name of `given` once, in order, every one of `known` (else a ConfigError on `key`). */
function distinct<T extends string>(key: string, given: readonly string[], known: readonly T[]): T[] {
  if (given.length === 0) throw new ConfigError(key, `needs one of ${known.join(', ')}`);
  for (const name of given) {
    if (!(known as readonly string[]).includes(name)) {
      throw new ConfigError(key, `must be ${known.join(', ')} (comma-separated), got ${JSON.stringify(name)}`);
    }
  }
  return [...new Set(given as T[])];
}

/**
 * The deployments `--topology` and `--queue` ask for, in order: per topology, the trio once
 * per queue home, wsq-server once. A queue list that no trio uses is an error.
 */
export function planDeployments(topologies: readonly string[], queues: readonly string[]): Deployment[] {
  const tops = distinct('topology', topologies, TOPOLOGIES);
  const homes = distinct('queue', queues, QUEUE_HOMES);
  if (!tops.includes('trio') && (homes.length > 1 || homes[0] !== 'msgqueue')) {
    throw new ConfigError(
      'queue',
      `--queue ${homes.join(',')} needs --target self --topology trio (wsq-server keeps its queue inside)`,
    );
  }
  return tops.flatMap((topology): Deployment[] =>
    topology === 'server' ? [{ topology }] : homes.map((queue) => ({ topology, queue })),
  );
}
