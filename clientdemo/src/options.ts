/**
 * clientdemo's options: flags > WSQ_CLIENT_* environment > --config JSON > defaults (core's
 * machinery). The client has its own variable names, so a service's WSQ_CA or WSQ_INSECURE
 * exported in the same shell does not change it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, DEMO_PASSWORD, DEMO_USER, type ConfigValues, type OptionSpec } from '@wsq/core';
import type { ClientOptions, Protocol } from './client.js';

export const DEFAULT_CA = 'certs/ca.crt';
/** WSQ_CLIENT_CA, WSQ_CLIENT_INSECURE, …, and WSQ_CLIENT_CONFIG for --config. */
export const ENV_PREFIX = 'WSQ_CLIENT_';

export const OPTIONS: OptionSpec[] = [
  { key: 'publishUrl', type: 'string', default: 'wss://localhost:8081/publish', help: 'publisher WebSocket URL' },
  { key: 'subscribeUrl', type: 'string', default: 'wss://localhost:8082/subscribe', help: 'subscriber WebSocket URL' },
  { key: 'user', type: 'string', default: DEMO_USER, help: 'user for Basic Auth' },
  {
    key: 'password',
    type: 'string',
    default: DEMO_PASSWORD,
    secret: true,
    help: 'password for Basic Auth (prefer the env variable)',
  },
  {
    key: 'ca',
    type: 'string',
    default: DEFAULT_CA,
    help: 'CA certificate (PEM) to trust; when the default file is missing, the system CAs',
  },
  { key: 'insecure', type: 'bool', default: false, help: 'do NOT verify server certificates (testing only)' },
  {
    key: 'protocol',
    type: 'string',
    default: 'legacy',
    choices: ['legacy', 'v1'],
    help: 'legacy (ws-go frames) or v1 (wsq.v1: acks, seqs, errors)',
  },
  {
    key: 'json',
    type: 'bool',
    default: false,
    help: 'sub: print each frame as received; pub (v1): print the ack frame',
  },
  {
    key: 'count',
    type: 'int',
    default: undefined,
    min: 1,
    unit: 'messages',
    help: 'sub: exit after this many messages',
  },
  {
    key: 'since',
    type: 'int',
    default: undefined,
    min: 0,
    help: 'sub (v1): first replay retained messages with a greater seq',
  },
  {
    key: 'id',
    type: 'string',
    default: undefined,
    help: 'pub (v1): idempotency id; re-sending it within the dedupe window is not delivered twice',
  },
  {
    key: 'connectTimeoutMs',
    type: 'int',
    default: 10000,
    min: 1,
    unit: 'ms',
    help: 'time allowed to open each connection',
  },
  {
    key: 'replyTimeoutMs',
    type: 'int',
    default: 10000,
    min: 1,
    unit: 'ms',
    help: 'time allowed for an ack or subscribed reply (v1)',
  },
  {
    key: 'maxPayloadBytes',
    type: 'int',
    default: 16 * 1024 * 1024,
    min: 128,
    unit: 'bytes',
    help: 'largest frame accepted from a server',
  },
];

export interface ClientdemoConfig {
  client: ClientOptions;
  json: boolean;
  count: number | undefined;
  since: number | undefined;
  id: string | undefined;
}

/** Cross-field checks, run by loadConfig so errors exit 2 naming the field. */
export function checkOptions(values: Record<string, unknown>): void {
  for (const key of ['publishUrl', 'subscribeUrl']) {
    let url: URL;
    try {
      url = new URL(String(values[key]));
    } catch {
      throw new ConfigError(key, `not a URL: ${JSON.stringify(values[key])}`);
    }
    if (url.protocol !== 'wss:' && url.protocol !== 'ws:')
      throw new ConfigError(key, 'must be a wss:// (or ws://) URL');
  }
  if (values.protocol !== 'v1') {
    if (values.since !== undefined) throw new ConfigError('since', 'needs --protocol v1');
    if (values.id !== undefined) throw new ConfigError('id', 'needs --protocol v1');
  }
  const id = values.id as string | undefined;
  if (id !== undefined && (id.length === 0 || id.length > 128)) throw new ConfigError('id', 'must be 1-128 characters');
}

/** The CA bytes: the named file, or undefined (system store) when the default file is absent. */
function readCa(path: string): Buffer | undefined {
  if (path === DEFAULT_CA && !existsSync(path)) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError('ca', `cannot read ${path}: ${(err as Error).message}`);
  }
}

export function toClientdemoConfig(values: ConfigValues): ClientdemoConfig {
  const insecure = values.insecure === true;
  return {
    client: {
      publishUrl: values.publishUrl as string,
      subscribeUrl: values.subscribeUrl as string,
      user: values.user as string,
      password: values.password as string,
      protocol: values.protocol as Protocol,
      ca: insecure ? undefined : readCa(values.ca as string),
      insecure,
      connectTimeoutMs: values.connectTimeoutMs as number,
      replyTimeoutMs: values.replyTimeoutMs as number,
      maxPayloadBytes: values.maxPayloadBytes as number,
    },
    json: values.json === true,
    count: values.count as number | undefined,
    since: values.since as number | undefined,
    id: values.id as string | undefined,
  };
}
