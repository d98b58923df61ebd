#!/usr/bin/env node
import { linkQueueHome, runService } from '@wsq/core';
import { OPTIONS, finishOptions, toPublisherConfig } from './options.js';
import { createPublisher } from './service.js';

await runService({
  service: 'publisher',
  description: 'wsq publisher: accepts messages on wss://…/publish and appends them to the msgqueue',
  specs: OPTIONS,
  finish: finishOptions,
  build: (values, log) => {
    const config = toPublisherConfig(values);
    return createPublisher(config, { log, queue: linkQueueHome(config, log) });
  },
});
