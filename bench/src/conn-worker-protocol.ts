/** The messages between the connections scenario (connections.ts) and its client processes (conn-worker.ts). */
import type { Endpoint } from './transport.js';

export interface ConnWorkerSetup {
  /** The subscriber side of the system under test; localAddress is set per connection. */
  endpoint: Endpoint;
  topic: string;
  /** Connections this process opens. */
  connections: number;
  /** Source addresses to spread them over (round-robin). */
  sourceAddresses: string[];
  /** Handshakes in flight at once. */
  concurrency: number;
  progressIntervalMs: number;
}

export type ConnMainToWorker = { type: 'setup'; setup: ConnWorkerSetup } | { type: 'close' };

export type ConnWorkerToMain =
  | { type: 'progress'; connected: number }
  /** Every connection subscribed; `firstAtMs`/`lastAtMs`: when the first connect started and the last subscription was confirmed. */
  | { type: 'ready'; connected: number; firstAtMs: number; lastAtMs: number; closedByServer: number }
  /** Every connection of this process got broadcast `index`; `lastAtMs` when the last one did. */
  | { type: 'delivered'; index: number; lastAtMs: number }
  /** The server closed one more connection (`total` so far): a broadcast can no longer reach all. */
  | { type: 'closed'; total: number; code: number }
  | { type: 'failed'; message: string };

/** The n-th source address: 127.0.0.2, 127.0.0.3, … (127.0.0.1 stays the servers'). */
export function sourceAddress(n: number): string {
  const host = n + 2;
  return `127.0.${Math.floor(host / 256)}.${host % 256}`;
}
