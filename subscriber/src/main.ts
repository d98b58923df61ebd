#!/usr/bin/env node
import { linkQueueHome, runService } from '@wsq/core';
import { OPTIONS, checkSubscriberValues, createSubscriber, toSubscriberConfig } from './index.js';

await runService({
  service: 'subscriber',
  description: 'wsq subscriber: consumes the msgqueue and fans messages out to WebSocket subscribers on /subscribe',
  specs: OPTIONS,
  finish: checkSubscriberValues,
  build: (values, log) => {
    const config = toSubscriberConfig(values);
    return createSubscriber(config, { log, queue: linkQueueHome(config, log) });
  },
});
