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
    {
      key: 'cert',
      type: 'string',
      default: 'certs/server.crt',
      help: 'TLS certificate (PEM); reloaded on change and on SIGHUP',
    },
    { key: 'key', type: 'string', default: 'certs/server.key', help: 'TLS private key (PEM)' },
    {
      key: 'ca',
      type: 'string',
      default: 'certs/ca.crt',
      help: 'CA certificate (PEM) trusted for links to other services',
    },
    {
      key: 'tls',
      type: 'bool',
      default: true,
      explicit: true,
      help: 'serve HTTPS/WSS; only an explicit --tls=false (WSQ_TLS=false) serves plain HTTP/WS, for a TLS-terminating proxy in front',
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
    help: 'the queue: a msgqueue base URL wss://host:8080 (a path is a prefix for /pushmsg and /popmsg; no query or fragment), or NATS JetStream as nats://host:4222[,nats://host2:4222…] (tls:// too)',
  },
  {
    key: 'queueUser',
    type: 'string',
    default: undefined,
    help: 'user for the msgqueue link or NATS (default with --demo and a wss:// queue: hello)',
  },
  {
    key: 'queuePassword',
    type: 'string',
    default: undefined,
    secret: true,
    help: 'password for the msgqueue link or NATS (prefer the env variable)',
  },
  {
    key: 'queueToken',
    type: 'string',
    default: undefined,
    secret: true,
    help: 'NATS token, in place of --queue-user/--queue-password (nats:// and tls:// queues; prefer the env variable)',
  },
  {
    key: 'insecure',
    type: 'bool',
    default: false,
    help: 'do NOT verify the msgqueue (or NATS tls://) certificate (testing only)',
  },
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

/**
 * Options of the JetStream home (--queue nats://…), for publisher and subscriber. The
 * retention and dedupe flags have the msgqueue's names and defaults (msgqueue/src/options.ts),
 * so one set of flags describes the queue whatever its home.
 */
export const JETSTREAM_OPTIONS: OptionSpec[] = [
  {
    key: 'stream',
    type: 'string',
    default: 'WSQ',
    help: 'JetStream stream name (nats:// queues); created when missing, checked when present',
  },
  {
    key: 'streamReplicas',
    type: 'int',
    default: 1,
    min: 1,
    max: 5,
    unit: 'replicas',
    help: 'replicas of the JetStream stream (3 survives the loss of one NATS node)',
  },
  {
    key: 'retainMessages',
    type: 'int',
    default: 10_000_000,
    min: 0,
    unit: 'messages',
    help: 'JetStream stream: keep at most this many messages (0: unlimited)',
  },
  {
    key: 'retainBytes',
    type: 'int',
    default: 1024 * 1024 * 1024,
    min: 0,
    unit: 'bytes',
    help: 'JetStream stream: keep at most this many bytes (0: unlimited)',
  },
  {
    key: 'retainMs',
    type: 'int',
    default: 7 * 24 * 60 * 60 * 1000,
    min: 0,
    unit: 'ms',
    help: 'JetStream stream: keep messages at least this long (0: forever)',
  },
  {
    key: 'dedupeWindowMs',
    type: 'int',
    default: 120_000,
    min: 0,
    unit: 'ms',
    help: 'JetStream stream duplicate window: a re-sent message id within it gets the original seq',
  },
  {
    key: 'consumerTtlMs',
    type: 'int',
    default: 7 * 24 * 60 * 60 * 1000,
    min: 1000,
    unit: 'ms',
    help: 'JetStream: a durable consumer (subscriber --name) unused this long is deleted by the server',
  },
];

export const DEMO_USER = 'hello';
export const DEMO_PASSWORD = 'test';
