/**
 * The demo client: one connection to the publisher, one to the subscriber, either protocol.
 * wsq.v1 runs on @wsq/client (reconnects, re-sends, resumes); legacy on a minimal socket.
 * It knows nothing of terminals; the REPL and the script commands sit on top of it.
 */
import { createLegacyClient } from './legacy-client.js';
import type { Client, ClientOptions } from './types.js';
import { createV1Client } from './v1-client.js';

export type {
  Client,
  ClientEvents,
  ClientOptions,
  Delivery,
  Protocol,
  PublishResult,
  SubscribeResult,
} from './types.js';

export function createClient(opts: ClientOptions): Client {
  return opts.protocol === 'v1' ? createV1Client(opts) : createLegacyClient(opts);
}
