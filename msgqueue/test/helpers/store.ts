/** A real queue store (journal, cursors, dedupe) in a temp dir, for the embedded home's tests. */
import { createMetrics, resolveValues, type BaseMetrics, type ConfigValues } from '@wsq/core';
import { logSink, type Teardown } from '@wsq/core/testing';
import { OPTIONS, toConfig } from '../../src/options.js';
import { openQueueStore, type QueueStore } from '../../src/store.js';
import { tempDir } from './queue.js';

export interface TestStore {
  store: QueueStore;
  dir: string;
  metrics: BaseMetrics;
  logs: ReturnType<typeof logSink>;
  /** Opens the same data dir again (after close()), as a restart would. */
  reopen(options?: Record<string, unknown>): Promise<QueueStore>;
}

export async function openTestStore(t: Teardown, options: Record<string, unknown> = {}): Promise<TestStore> {
  const dir = await tempDir(t);
  const logs = logSink('msgqueue');
  const metrics = createMetrics('msgqueue', { defaultMetrics: false });
  const open = async (more: Record<string, unknown>, m: BaseMetrics): Promise<QueueStore> => {
    const values = resolveValues(OPTIONS, { port: 0, dataDir: dir, fsync: 'never', ...options, ...more }, {}, {});
    const store = await openQueueStore(toConfig(values as ConfigValues), { log: logs.log, metrics: m });
    t.teardown(() => store.close());
    return store;
  };
  const store = await open({}, metrics);
  return {
    store,
    dir,
    metrics,
    logs,
    reopen: (more = {}) => open(more, createMetrics('msgqueue', { defaultMetrics: false })),
  };
}
