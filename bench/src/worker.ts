/**
 * Worker thread entry: builds this worker's LoadWorker from workerData and wires it to the
 * main thread. Only wiring; the load itself is load.ts.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { LoadWorker } from './load.js';
import type { MainToWorker, WorkerSetup, WorkerToMain } from './worker-protocol.js';

if (!isMainThread && parentPort) {
  const port = parentPort;
  const post = (msg: WorkerToMain): void => port.postMessage(msg);
  const load = new LoadWorker(workerData as WorkerSetup, post);
  port.on('message', (msg: MainToWorker) => {
    switch (msg.type) {
      case 'start':
        return load.start();
      case 'finish':
        return load.finish();
    }
  });
  load.connect().catch((err: unknown) => post({ type: 'failed', message: String((err as Error)?.message ?? err) }));
}
