#!/usr/bin/env node
import { runService } from '@wsq/core';
import { OPTIONS, toConfig } from './options.js';
import { createMsgqueue } from './service.js';

await runService({
  service: 'msgqueue',
  description: 'wsq msgqueue: the durable FIFO journal behind publisher (/pushmsg) and subscriber (/popmsg)',
  specs: OPTIONS,
  build: (values, log) => createMsgqueue(toConfig(values), { log }),
});
