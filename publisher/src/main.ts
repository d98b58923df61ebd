#!/usr/bin/env node
import { runService } from '@wsq/core';
import { OPTIONS, finishOptions, toPublisherConfig } from './options.js';
import { createPublisher } from './service.js';

await runService({
  service: 'publisher',
  description: 'wsq publisher: accepts messages on wss://…/publish and appends them to the msgqueue',
  specs: OPTIONS,
  finish: finishOptions,
  build: (config, log) => createPublisher(toPublisherConfig(config), { log }),
});
