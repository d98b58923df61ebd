/** wsq-server as a library (tests, embedding). main.ts is the CLI. */
export { createServer } from './server.js';
export type { ServerAddresses, ServerDeps, WsqServer } from './server.js';
export { OPTIONS, QUEUE_PORT, checkServerValues, toServerConfig, unionOptions } from './options.js';
export type { ServerConfig } from './options.js';
export { main } from './main.js';
