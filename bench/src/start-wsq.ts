/** Starting the wsq side of a bench run (trio, wsq-server, or the trio on JetStream), and the bench's output streams. */
import type { NatsServer } from './nats.js';
import type { BenchConfig } from './options.js';
import type { ProgressStream } from './progress.js';
import { startServer, startTrio, type Trio, type TrioOptions } from './trio.js';

export interface BenchIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
}

/** What the bench starts for wsq: the trio (on the msgqueue or on JetStream) or wsq-server. */
export function startWsq(config: BenchConfig, nats: NatsServer | undefined, more: TrioOptions = {}): Promise<Trio> {
  const opts: TrioOptions = {
    extraArgs: config.serviceArgs,
    profileDir: config.profile,
    nodeArgs: config.serviceNodeArgs,
    ...more,
  };
  if (config.topology === 'server') return startServer(opts);
  if (config.queue === 'jetstream') {
    if (!nats) throw new Error('--queue jetstream needs the nats-server started first');
    return startTrio({ ...opts, queue: { url: nats.natsUrl, user: nats.user, password: nats.password } });
  }
  return startTrio(opts);
}
