/**
 * The topologies the conformance suite runs against, as one parameter object each: how to
 * start it, where its endpoints are, and how to crash and restart the process that holds a
 * part. The suite knows nothing else of them, so another home of the queue (JetStream) plugs
 * in by adding an entry to TOPOLOGIES.
 */
import { join } from 'node:path';
import { natsServerBinary, NATS_SKIP, startNats, type Teardown, type TestTls } from '@wsq/core/testing';
import { commonArgs, createTrio, prepareRun, spawnService, type ServiceName, type ServiceProcess } from './harness.js';
import type { Listener } from './prom.js';

/** The three jobs, whichever process does them. */
export type Part = 'queue' | 'publisher' | 'subscriber';
export const PARTS: readonly Part[] = ['queue', 'publisher', 'subscriber'];

export interface Topology {
  readonly name: string;
  readonly tls: TestTls;
  /** The parts a wsq process serves (JetStream's queue is nats-server, with no wsq endpoints). */
  readonly parts: readonly Part[];
  publishUrl(): string;
  subscribeUrl(): string;
  /**
   * Base URL of /pushmsg and /popmsg, where outside (ws-go) publishers and subscribers join the
   * journal; undefined where the queue is not wsq's (JetStream).
   */
  queueUrl: (() => string) | undefined;
  /** The process doing `part` (its logs; in wsq-server the same process for all three). */
  proc(part: Part): ServiceProcess;
  /** The port serving `part`'s endpoints, probes and /metrics. */
  listener(part: Part): Listener;
  /** Resolves once the subscriber consumes the queue (after a start or a restart). */
  consuming(): Promise<void>;
  /**
   * kill -9 of the process doing `part`, then a restart on the same ports and data; resolves
   * with every part that went down with it, once they serve again.
   */
  crash(part: Part): Promise<Part[]>;
  /** SIGTERM to every process, publishers' side first; resolves with their exit codes. */
  terminate(): Promise<(number | null)[]>;
}

export interface TopologyEntry {
  readonly name: string;
  /** Why it cannot run on this machine, or false. */
  readonly skip: string | false;
  /** `extra[part]`: more options for the process doing that part. */
  start(t: Teardown, extra?: Partial<Record<Part, string[]>>): Promise<Topology>;
}

const SERVICE_OF: Record<Part, ServiceName> = { queue: 'msgqueue', publisher: 'publisher', subscriber: 'subscriber' };

/** msgqueue, publisher and subscriber as three processes over TLS links (`npm start`). */
export const trioTopology: TopologyEntry = {
  name: 'trio',
  skip: false,
  async start(t, extra = {}) {
    const trio = await createTrio(t, {
      msgqueue: extra.queue,
      publisher: extra.publisher,
      subscriber: extra.subscriber,
    });
    const topo: Topology = {
      name: 'trio',
      tls: trio.tls,
      parts: PARTS,
      publishUrl: () => trio.publishUrl(),
      subscribeUrl: () => trio.subscribeUrl(),
      queueUrl: () => `wss://localhost:${trio.msgqueue.port}`,
      proc: (part) => trio[SERVICE_OF[part]],
      listener: (part) => trio[SERVICE_OF[part]],
      consuming: () => trio.subscriber.waitLog((l) => l.msg === 'msgqueue link up').then(() => undefined),
      async crash(part) {
        const name = SERVICE_OF[part];
        await trio[name].kill9();
        await trio.start(name);
        return [part];
      },
      async terminate() {
        const codes: (number | null)[] = [];
        for (const name of ['publisher', 'subscriber', 'msgqueue'] as const)
          codes.push((await trio[name].terminate()).code);
        return codes;
      },
    };
    await topo.consuming();
    return topo;
  },
};

/** wsq-server: all three in one process on one journal (the embedded home). */
export const serverTopology: TopologyEntry = {
  name: 'server',
  skip: false,
  async start(t, extra = {}) {
    const { tls, dir, usersFile } = await prepareRun(t);
    const more = PARTS.flatMap((p) => extra[p] ?? []);
    const ports: Record<Part, number> = { queue: 0, publisher: 0, subscriber: 0 };
    let proc: ServiceProcess;

    async function start(): Promise<void> {
      const args = [
        ...commonArgs(tls, usersFile),
        '--data-dir',
        join(dir, 'data'),
        '--queue-port',
        String(ports.queue),
        '--publish-port',
        String(ports.publisher),
        '--subscribe-port',
        String(ports.subscriber),
        ...more,
      ];
      const p = spawnService('server', args);
      proc = p;
      t.teardown(() => p.kill9());
      const line = await p.waitLog((l) => l.msg === 'wsq-server listening');
      ports.queue = line.queuePort as number;
      ports.publisher = line.publishPort as number;
      ports.subscriber = line.subscribePort as number;
      p.port = ports.queue;
    }

    await start();
    return {
      name: 'server',
      tls,
      parts: PARTS,
      publishUrl: () => `wss://localhost:${ports.publisher}/publish`,
      subscribeUrl: () => `wss://localhost:${ports.subscriber}/subscribe`,
      queueUrl: () => `wss://localhost:${ports.queue}`,
      proc: () => proc,
      listener: (part) => ({ name: proc.name, port: ports[part] }),
      // Its readiness needs no link: consuming from the moment all three ports listen.
      consuming: () => Promise.resolve(),
      async crash() {
        await proc.kill9();
        await start();
        return [...PARTS];
      },
      async terminate() {
        return [(await proc.terminate()).code];
      },
    };
  },
};

/**
 * publisher and subscriber on a NATS JetStream stream (a nats-server of the test's own, R1):
 * the queue part is nats-server, killed with -9 and restarted on the same port and store.
 */
export const jetstreamTopology: TopologyEntry = {
  name: 'jetstream',
  skip: natsServerBinary() ? false : NATS_SKIP,
  async start(t, extra = {}) {
    const nats = await startNats(t);
    const queue = {
      args: () => ['--queue', nats.url, '--reconnect-min-ms', '20', '--reconnect-max-ms', '500'],
    };
    const trio = await createTrio(t, { publisher: extra.publisher, subscriber: extra.subscriber }, queue);
    // The subscriber's JetStream session says so each time the stream is checked after a (re)connect.
    const UP = 'JetStream stream checked: queue up';
    const ups = (): number => trio.subscriber.lines.filter((l) => l.msg === UP).length;
    const queueUp = (seen: number) => trio.subscriber.waitLog(() => ups() > seen).then(() => undefined);
    const topo: Topology = {
      name: 'jetstream',
      tls: trio.tls,
      parts: ['publisher', 'subscriber'],
      publishUrl: () => trio.publishUrl(),
      subscribeUrl: () => trio.subscribeUrl(),
      queueUrl: undefined,
      proc: (part) => trio[part === 'queue' ? 'subscriber' : SERVICE_OF[part]],
      listener: (part) => trio[part === 'queue' ? 'subscriber' : SERVICE_OF[part]],
      consuming: () => queueUp(0),
      async crash(part) {
        if (part === 'queue') {
          const seen = ups();
          await nats.kill9();
          await nats.restart();
          await queueUp(seen);
          return ['queue'];
        }
        const name = SERVICE_OF[part];
        await trio[name].kill9();
        await trio.start(name);
        return [part];
      },
      async terminate() {
        const codes: (number | null)[] = [];
        for (const name of ['publisher', 'subscriber'] as const) codes.push((await trio[name].terminate()).code);
        return codes;
      },
    };
    await topo.consuming();
    return topo;
  },
};

export const TOPOLOGIES: Readonly<Record<string, TopologyEntry>> = {
  trio: trioTopology,
  server: serverTopology,
  jetstream: jetstreamTopology,
};
