/** `npx wsq-server`: only wiring (configuration, the server, signals: core's runService). */
import { runService } from '@wsq/core';
import { OPTIONS, checkServerValues, toServerConfig } from './options.js';
import { createServer } from './server.js';

export function main(argv?: readonly string[]): Promise<void> {
  return runService({
    service: 'server',
    description:
      'wsq-server: msgqueue (/pushmsg, /popmsg), publisher (/publish) and subscriber (/subscribe) in one process, on one journal',
    specs: OPTIONS,
    argv,
    finish: checkServerValues,
    build: (values, log) => createServer(toServerConfig(values), { log }),
  });
}
