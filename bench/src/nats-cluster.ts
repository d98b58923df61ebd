/**
 * A nats-server cluster on loopback for wsq's JetStream R3 home (`--queue jetstream-r3`):
 * three nodes on free client and route ports, each with its own JetStream store in one temp
 * dir, routed to each other, with the demo user wsq's services log in with. The nodes start
 * together (electing a metadata leader takes a quorum); the cluster is ready once every node
 * has logged which node leads the JetStream metadata, so a three-replica stream can be placed.
 * Config writing, the binary and each process's start and stop are nats.ts's.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_PASSWORD, DEMO_USER, freePort } from '@wsq/core';
import { natsConfig, spawnNats, type NatsProcess } from './nats.js';

export const CLUSTER_NAME = 'wsqbench';
export const CLUSTER_NODES = 3;
/**
 * The line each node logs once the JetStream metadata group has a leader: "Self is new
 * JetStream cluster metadata leader" on the leader, "JetStream cluster new metadata leader:
 * n1/wsqbench" (or "new remote metadata leader") on the others.
 */
export const METADATA_LEADER =
  /Self is new JetStream cluster metadata leader|JetStream cluster new (remote )?metadata leader/;

export interface NatsCluster {
  /** Every node's plain client URL, as wsq's `--queue` takes them (comma-joined). */
  natsUrls: string[];
  user: string;
  password: string;
  version: string;
  /** Each node's process id by its CPU line name, `nats-server n1` … */
  pids(): Record<string, number | undefined>;
  /** Stops every node (SIGTERM, then SIGKILL after a bound) and removes the stores. */
  stop(): Promise<void>;
}

/** A node's name in the CPU lines. */
export function clusterProcessName(serverName: string): string {
  return `nats-server ${serverName}`;
}

export async function startNatsCluster(binary: string, nodes = CLUSTER_NODES): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'wsq-bench-nats-cluster-'));
  const specs: { serverName: string; port: number; routePort: number }[] = [];
  let started: PromiseSettledResult<NatsProcess>[] = [];
  try {
    for (let i = 1; i <= nodes; i++)
      specs.push({ serverName: `n${i}`, port: await freePort(), routePort: await freePort() });
    const routes = specs.map((s) => s.routePort);
    started = await Promise.allSettled(
      specs.map((s) => {
        const nodeDir = join(dir, s.serverName);
        mkdirSync(nodeDir);
        const confFile = join(nodeDir, 'nats.conf');
        const cluster = { name: CLUSTER_NAME, serverName: s.serverName, port: s.routePort, routes };
        writeFileSync(confFile, natsConfig({ port: s.port, storeDir: join(nodeDir, 'jetstream'), cluster }));
        return spawnNats(binary, confFile, METADATA_LEADER);
      }),
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const procs = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    natsUrls: specs.map((s) => `nats://127.0.0.1:${s.port}`),
    user: DEMO_USER,
    password: DEMO_PASSWORD,
    version: procs[0]!.version,
    pids: () => Object.fromEntries(specs.map((s, i) => [clusterProcessName(s.serverName), procs[i]!.pid])),
    stop,
  };
}
