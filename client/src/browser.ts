/**
 * @wsq/client for browsers (bundled into dist/browser/wsq-client.js): `connect()` over the
 * global WebSocket, authenticating with tickets. Imports nothing from Node.
 */
import { createBrowserPlatform } from './browser-platform.js';
import { connectWith, type ConnectOptions, type Wsq } from './client.js';

export function connect(options: ConnectOptions): Promise<Wsq> {
  return connectWith(createBrowserPlatform(), options);
}

export * from './common.js';
export { createBrowserPlatform } from './browser-platform.js';
