#!/usr/bin/env node
import { createMetrics, openQueueHome, runService } from '@wsq/core';
import { OPTIONS, finishOptions, toPublisherConfig } from './options.js';
import { createPublisher } from './service.js';

await runService({
  service: 'publisher',
  description:
    'wsq publisher: accepts messages on wss://…/publish and appends them to the queue (msgqueue or NATS JetStream)',
  specs: OPTIONS,
  finish: finishOptions,
  build: (values, log) => {
    const config = toPublisherConfig(values);
    const metrics = createMetrics('publisher');
    return createPublisher(config, {
      log,
      metrics,
      queue: openQueueHome(config, log, { metrics, service: 'publisher' }),
    });
  },
});
