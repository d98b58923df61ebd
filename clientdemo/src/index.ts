/** The demo client as a library: the client, the REPL and the CLI entry point. */
export { createClient } from './client.js';
export type {
  Client,
  ClientOptions,
  ClientEvents,
  Delivery,
  Protocol,
  PublishResult,
  SubscribeResult,
} from './client.js';
export { runRepl } from './repl.js';
export type { ReplOptions } from './repl.js';
export { parseCommand, HELP } from './commands.js';
export type { Command } from './commands.js';
export { runCli } from './cli.js';
export type { CliIo } from './cli.js';
export { ClientError, CLIENT_ERRORS } from './errors.js';
export type { ClientErrorCode, EndpointName } from './errors.js';
export { OPTIONS } from './options.js';
