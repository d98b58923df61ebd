#!/usr/bin/env node
import { createMetrics, openQueueHome, runService } from '@wsq/core';
import { OPTIONS, checkSubscriberValues, createSubscriber, toSubscriberConfig } from './index.js';

await runService({
  service: 'subscriber',
  description:
    'wsq subscriber: consumes the queue (msgqueue or NATS JetStream) and fans messages out to WebSocket subscribers on /subscribe',
  specs: OPTIONS,
  finish: checkSubscriberValues,
  build: (values, log) => {
    const config = toSubscriberConfig(values);
    const metrics = createMetrics('subscriber');
    return createSubscriber(config, {
      log,
      metrics,
      queue: openQueueHome(config, log, { metrics, service: 'subscriber' }),
    });
  },
});
