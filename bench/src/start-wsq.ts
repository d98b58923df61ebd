/**
 * Starting one wsq deployment of a bench run (the trio on the msgqueue, on JetStream R1 or R3,
 * or wsq-server), and the bench's output streams. The R3 deployment starts and stops its own
 * three-node nats-server cluster; the R1 one uses the bench's nats-server, which the bench
 * owns. Either way the deployment's process ids include the nats-server(s) holding its stream.
 */
import { STREAM_REPLICAS, needsNats, type Deployment, type QueueHome } from './deployments.js';
import { startNatsCluster } from './nats-cluster.js';
import type { NatsServer } from './nats.js';
import type { BenchConfig } from './options.js';
import type { ProgressStream } from './progress.js';
import { SetupError, startServer, startTrio, type Trio, type TrioOptions } from './trio.js';

export interface BenchIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
}

/** What the JetStream homes need: the bench's own nats-server (R1), the binary for a cluster (R3). */
export interface NatsHomes {
  nats?: NatsServer;
  natsBinary?: string;
}

/** The deployments the bench starts: none with --target urls. */
export function selfDeployments(config: BenchConfig): readonly Deployment[] {
  return config.target === 'self' ? config.deployments : [];
}

/**
 * Whether this run needs the nats-server binary (`nats`), and its own nats-server (`own`),
 * with JetStream; `why` names the flags that need it, for the message when it is missing.
 */
export function natsNeeds(config: BenchConfig): { nats: boolean; own: boolean; jetstream: boolean; why: string } {
  const homes = selfDeployments(config).filter(needsNats);
  const r1 = homes.some((d) => d.topology === 'trio' && d.queue === 'jetstream');
  const jetstream = r1 || (config.connections === undefined && config.references.includes('jetstream'));
  const own = jetstream || config.references.length > 0;
  const queues = homes.map((d) => (d.topology === 'trio' ? d.queue : ''));
  const why = queues.length > 0 ? `--queue ${queues.join(',')}` : `--reference ${config.references.join(',')}`;
  return { nats: own || homes.length > 0, own, jetstream, why };
}

/** `trio` with more processes in its pids and something more to stop after it. */
function withQueueProcesses(
  trio: Trio,
  pids: Readonly<Record<string, number | undefined>>,
  stopAfter: () => Promise<void> = () => Promise.resolve(),
): Trio {
  return {
    ...trio,
    pids: () => ({ ...trio.pids(), ...pids }),
    stop: async () => {
      try {
        await trio.stop();
      } finally {
        await stopAfter();
      }
    },
  };
}

async function startTrioOn(queue: QueueHome, opts: TrioOptions, homes: NatsHomes): Promise<Trio> {
  switch (queue) {
    case 'msgqueue':
      return startTrio(opts);
    case 'jetstream': {
      const nats = homes.nats;
      if (!nats) throw new Error('--queue jetstream needs the nats-server started first');
      const home = { url: nats.natsUrl, user: nats.user, password: nats.password };
      return withQueueProcesses(await startTrio({ ...opts, queue: home }), { 'nats-server': nats.pid });
    }
    case 'jetstream-r3': {
      if (homes.natsBinary === undefined) throw new Error('--queue jetstream-r3 needs the nats-server binary');
      const cluster = await startNatsCluster(homes.natsBinary).catch((err: unknown) => {
        throw new SetupError(`the three-node nats-server cluster did not start: ${(err as Error).message}`);
      });
      const home = {
        url: cluster.natsUrls.join(','),
        user: cluster.user,
        password: cluster.password,
        replicas: STREAM_REPLICAS['jetstream-r3'],
      };
      try {
        return withQueueProcesses(await startTrio({ ...opts, queue: home }), cluster.pids(), cluster.stop);
      } catch (err) {
        await cluster.stop();
        throw err;
      }
    }
  }
}

/** Starts one deployment with the bench's service flags (and `more`). */
export function startWsq(
  config: BenchConfig,
  deployment: Deployment,
  homes: NatsHomes,
  more: TrioOptions = {},
): Promise<Trio> {
  const opts: TrioOptions = {
    extraArgs: config.serviceArgs,
    profileDir: config.profile,
    nodeArgs: config.serviceNodeArgs,
    ...more,
  };
  switch (deployment.topology) {
    case 'server':
      return startServer(opts);
    case 'trio':
      return startTrioOn(deployment.queue, opts, homes);
  }
}
