/**
 * The option tables shared by the services. Every limit has a unit in its name and a
 * documented default (docs/operations.md lists them; a test keeps the two in step).
 */
import type { OptionSpec } from './config.js';
import { parseAllowedOrigin } from '../front/origins.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Options every service takes. `port` is added per service with its own default. */
export function commonOptions(defaultPort: number): OptionSpec[] {
  return [
    { key: 'host', type: 'string', default: '127.0.0.1', help: 'address to listen on' },
    {
      key: 'port',
      type: 'int',
      default: defaultPort,
      min: 0,
      max: 65535,
      help: 'port to listen on (0: any free port)',
    },
    { key: 'cert', type: 'string', default: 'certs/server.crt', help: 'TLS certificate (PEM)' },
    { key: 'key', type: 'string', default: 'certs/server.key', help: 'TLS private key (PEM)' },
    {
      key: 'ca',
      type: 'string',
      default: 'certs/ca.crt',
      help: 'CA certificate (PEM) trusted for links to other services',
    },
    {
      key: 'users',
      type: 'string',
      default: undefined,
      help: 'users file (see wsq-users); reloaded on change and on SIGHUP',
    },
    { key: 'demo', type: 'bool', default: false, help: 'add the demo user hello/test (never in production)' },
    { key: 'logLevel', type: 'string', default: 'info', choices: LOG_LEVELS, help: 'log level' },
    {
      key: 'maxPayloadBytes',
      type: 'int',
      default: 65536,
      min: 128,
      max: 16 * 1024 * 1024,
      unit: 'bytes',
      help: 'largest WebSocket message accepted; larger closes with 1009',
    },
    {
      key: 'perMessageDeflate',
      type: 'bool',
      default: false,
      help: 'offer permessage-deflate compression (--max-payload-bytes still caps the inflated size)',
    },
    {
      key: 'maxBufferedBytes',
      type: 'int',
      default: 1024 * 1024,
      min: 1024,
      unit: 'bytes',
      help: 'unsent bytes allowed per client socket before it is closed with 1013',
    },
    {
      key: 'pingIntervalMs',
      type: 'int',
      default: 25000,
      min: 50,
      unit: 'ms',
      help: 'WebSocket ping interval; a peer that misses a pong is dropped',
    },
    {
      key: 'allowedOrigins',
      type: 'list',
      default: [],
      item: parseAllowedOrigin,
      help: 'allowed Origin headers (exact or https://*.example.com); empty: any',
    },
    {
      key: 'maxConnections',
      type: 'int',
      default: 10000,
      min: 1,
      unit: 'connections',
      help: 'open WebSocket connections in all',
    },
    {
      key: 'maxConnectionsPerUser',
      type: 'int',
      default: 1000,
      min: 1,
      unit: 'connections',
      help: 'open WebSocket connections per user',
    },
    {
      key: 'handshakeTimeoutMs',
      type: 'int',
      default: 10000,
      min: 100,
      unit: 'ms',
      help: 'time allowed for the TLS handshake, and then for a request to complete its headers',
    },
    {
      key: 'requestTimeoutMs',
      type: 'int',
      default: 30000,
      min: 100,
      unit: 'ms',
      help: 'time allowed for a whole plain HTTPS request, headers and body (e.g. POST /v1/messages); a slower one gets 408',
    },
    { key: 'metricsAuth', type: 'bool', default: false, help: 'require Basic Auth on /metrics' },
  ];
}

/** Options of services that link to the msgqueue (publisher, subscriber). */
export const LINK_OPTIONS: OptionSpec[] = [
  {
    key: 'queue',
    type: 'string',
    default: 'wss://localhost:8080',
    help: 'msgqueue base URL; a path is a prefix for /pushmsg and /popmsg; no query or fragment',
  },
  {
    key: 'queueUser',
    type: 'string',
    default: undefined,
    help: 'user for the msgqueue link (default with --demo: hello)',
  },
  {
    key: 'queuePassword',
    type: 'string',
    default: undefined,
    secret: true,
    help: 'password for the msgqueue link (prefer the env variable)',
  },
  { key: 'insecure', type: 'bool', default: false, help: 'do NOT verify the msgqueue certificate (testing only)' },
  {
    key: 'reconnectMinMs',
    type: 'int',
    default: 100,
    min: 1,
    unit: 'ms',
    help: 'first reconnect delay to the msgqueue',
  },
  {
    key: 'reconnectMaxMs',
    type: 'int',
    default: 10000,
    min: 1,
    unit: 'ms',
    help: 'largest reconnect delay to the msgqueue',
  },
];

export const DEMO_USER = 'hello';
export const DEMO_PASSWORD = 'test';
