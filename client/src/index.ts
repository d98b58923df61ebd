/**
 * @wsq/client for Node: `connect()` over `ws`, with Basic Auth and the CA to trust.
 * Browsers get ./browser.ts (the same API over the global WebSocket and tickets).
 */
import { connectWith, type ConnectOptions, type Wsq } from './client.js';
import { createNodePlatform, type NodeTlsOptions } from './node-platform.js';

export type NodeConnectOptions = ConnectOptions & NodeTlsOptions;

export function connect(options: NodeConnectOptions): Promise<Wsq> {
  return connectWith(createNodePlatform(options), options);
}

export * from './common.js';
export { createNodePlatform, NODE_MAX_PAYLOAD_BYTES } from './node-platform.js';
export { CERT_ERRORS } from './connection.js';
export type { NodeTlsOptions } from './node-platform.js';
