/**
 * The msgqueue's options: the common ones plus the journal, dedupe, consumer and replay
 * limits. Every limit carries its unit in its name and a default (journal defaults come from
 * JOURNAL_DEFAULTS, so the two never drift). toConfig() validates across fields and freezes.
 */
import { commonOptions, ConfigError, type ConfigValues, type OptionSpec, type ServerLimits } from '@wsq/core';
import { CURSOR_DEFAULTS } from './consumers/cursors.js';
import { DEDUPE_DEFAULTS } from './dedupe/dedupe.js';
import { JOURNAL_DEFAULTS, type FsyncMode, type JournalOptions } from './journal/journal.js';

export const FSYNC_MODES: readonly FsyncMode[] = ['always', 'batch', 'never'];

export const OPTIONS: OptionSpec[] = [
  ...commonOptions(8080),
  {
    key: 'dataDir',
    type: 'string',
    default: 'data/msgqueue',
    help: 'directory of the journal and the consumer cursors; created if missing, must be a writable directory (else exit 2)',
  },
  {
    key: 'fsync',
    type: 'string',
    default: JOURNAL_DEFAULTS.fsync,
    choices: FSYNC_MODES,
    help: 'when the journal is fsynced: always (before each ack; survives power loss), batch (every --fsync-interval-ms; kill -9 loses nothing already written), never (left to the OS)',
  },
  {
    key: 'fsyncIntervalMs',
    type: 'int',
    default: JOURNAL_DEFAULTS.fsyncIntervalMs,
    min: 1,
    unit: 'ms',
    help: 'background fsync interval with --fsync batch',
  },
  {
    key: 'segmentBytes',
    type: 'int',
    default: JOURNAL_DEFAULTS.segmentBytes,
    min: 4096,
    unit: 'bytes',
    help: 'journal segment file size; retention deletes whole segments',
  },
  {
    key: 'retainMessages',
    type: 'int',
    default: JOURNAL_DEFAULTS.retainMessages,
    min: 0,
    unit: 'messages',
    help: 'keep at most this many messages (0: unlimited)',
  },
  {
    key: 'retainBytes',
    type: 'int',
    default: JOURNAL_DEFAULTS.retainBytes,
    min: 0,
    unit: 'bytes',
    help: 'keep at most this many journal bytes (0: unlimited)',
  },
  {
    key: 'retainMs',
    type: 'int',
    default: JOURNAL_DEFAULTS.retainMs,
    min: 0,
    unit: 'ms',
    help: 'keep messages at least this long (0: forever)',
  },
  {
    key: 'cacheBytes',
    type: 'int',
    default: JOURNAL_DEFAULTS.cacheBytes,
    min: 0,
    unit: 'bytes',
    help: 'memory cache of the newest messages (consumers near the head read from it)',
  },
  {
    key: 'dedupeWindowMs',
    type: 'int',
    default: DEDUPE_DEFAULTS.windowMs,
    min: 0,
    unit: 'ms',
    help: 'an append with a known producer id within this window gets the original seq',
  },
  {
    key: 'dedupeMaxEntries',
    type: 'int',
    default: DEDUPE_DEFAULTS.maxEntries,
    min: 1,
    unit: 'entries',
    help: 'producer ids remembered for dedupe (the oldest are forgotten first)',
  },
  {
    key: 'maxConsumers',
    type: 'int',
    default: 1000,
    min: 1,
    unit: 'consumers',
    help: 'durable consumer names (cursors) the queue keeps',
  },
  {
    key: 'consumerTtlMs',
    type: 'int',
    default: 7 * 24 * 3600 * 1000,
    min: 1,
    unit: 'ms',
    help: 'a durable consumer unattached this long is deleted with its cursor (7 days; checked every tenth of it, at most every minute)',
  },
  {
    key: 'cursorFlushIntervalMs',
    type: 'int',
    default: CURSOR_DEFAULTS.flushIntervalMs,
    min: 1,
    unit: 'ms',
    help: 'how often acknowledged consumer positions are written to disk (a crash redelivers at most this much)',
  },
  {
    key: 'maxInflightAppends',
    type: 'int',
    default: 64,
    min: 1,
    unit: 'frames',
    help: 'append frames per producer connection waiting for the journal; past it the connection is not read (backpressure)',
  },
  {
    key: 'maxConsumerWindowMessages',
    type: 'int',
    default: 100_000,
    min: 1,
    unit: 'messages',
    help: 'largest consume window honoured (a larger one is clamped)',
  },
  {
    key: 'consumerBatchMessages',
    type: 'int',
    default: 256,
    min: 1,
    unit: 'messages',
    help: 'most messages in one msgs frame to a consumer',
  },
  {
    key: 'consumerBatchBytes',
    type: 'int',
    default: 256 * 1024,
    min: 1024,
    unit: 'bytes',
    help: 'most payload bytes in one msgs frame (a single larger message still goes alone)',
  },
  {
    key: 'replayScanLimit',
    type: 'int',
    default: 10_000,
    min: 1,
    unit: 'messages',
    help: 'most messages scanned by one replay request',
  },
  {
    key: 'replayBatchBytes',
    type: 'int',
    default: 1024 * 1024,
    min: 1024,
    unit: 'bytes',
    help: 'most payload bytes in one replayed frame',
  },
  {
    key: 'maxLinkFrameBytes',
    type: 'int',
    default: 16 * 1024 * 1024,
    min: 64 * 1024,
    unit: 'bytes',
    help: 'largest link frame (a batch of messages); --max-payload-bytes still bounds each legacy message',
  },
  {
    key: 'maxPendingReplays',
    type: 'int',
    default: 16,
    min: 1,
    unit: 'requests',
    help: 'replay requests queued per consumer connection; more get LIMIT_EXCEEDED',
  },
];

export interface MsgqueueConfig {
  readonly limits: ServerLimits;
  readonly tlsPaths: { cert: string; key: string; ca: string };
  /** False: plain HTTP/WS behind a TLS-terminating proxy (--tls=false). */
  readonly tls: boolean;
  readonly users: string | undefined;
  readonly demo: boolean;
  readonly maxBufferedBytes: number;
  readonly dataDir: string;
  readonly journal: Readonly<Omit<JournalOptions, 'dir'>>;
  readonly dedupeWindowMs: number;
  readonly dedupeMaxEntries: number;
  readonly maxConsumers: number;
  readonly consumerTtlMs: number;
  readonly cursorFlushIntervalMs: number;
  readonly maxInflightAppends: number;
  readonly maxConsumerWindowMessages: number;
  readonly consumerBatchMessages: number;
  readonly consumerBatchBytes: number;
  readonly replayScanLimit: number;
  readonly replayBatchBytes: number;
  readonly maxPendingReplays: number;
}

function str(values: ConfigValues, key: string): string {
  const v = values[key];
  if (typeof v !== 'string') throw new ConfigError(key, 'expected a string');
  return v;
}

function num(values: ConfigValues, key: string): number {
  const v = values[key];
  if (typeof v !== 'number') throw new ConfigError(key, 'expected an integer');
  return v;
}

function linkFrameBytes(values: ConfigValues): number {
  const frame = num(values, 'maxLinkFrameBytes');
  if (frame < num(values, 'maxPayloadBytes')) {
    throw new ConfigError('maxLinkFrameBytes', 'must be at least maxPayloadBytes');
  }
  return frame;
}

/** Typed, validated, frozen configuration from resolved option values. */
export function toConfig(values: ConfigValues): MsgqueueConfig {
  const fsync = str(values, 'fsync');
  if (!FSYNC_MODES.includes(fsync as FsyncMode))
    throw new ConfigError('fsync', `must be one of ${FSYNC_MODES.join(', ')}`);
  const dataDir = str(values, 'dataDir');
  if (dataDir.trim() === '') throw new ConfigError('dataDir', 'must not be empty');
  const users = values.users;
  if (users !== undefined && typeof users !== 'string') throw new ConfigError('users', 'expected a file name');
  const allowedOrigins = values.allowedOrigins;
  const config: MsgqueueConfig = {
    limits: Object.freeze({
      host: str(values, 'host'),
      port: num(values, 'port'),
      maxPayloadBytes: num(values, 'maxPayloadBytes'),
      maxFrameBytes: linkFrameBytes(values),
      pingIntervalMs: num(values, 'pingIntervalMs'),
      allowedOrigins: Object.freeze(Array.isArray(allowedOrigins) ? [...allowedOrigins] : []),
      maxConnections: num(values, 'maxConnections'),
      maxConnectionsPerUser: num(values, 'maxConnectionsPerUser'),
      handshakeTimeoutMs: num(values, 'handshakeTimeoutMs'),
      requestTimeoutMs: num(values, 'requestTimeoutMs'),
      metricsAuth: values.metricsAuth === true,
      perMessageDeflate: values.perMessageDeflate === true,
    }),
    tlsPaths: Object.freeze({ cert: str(values, 'cert'), key: str(values, 'key'), ca: str(values, 'ca') }),
    tls: values.tls !== false,
    users,
    demo: values.demo === true,
    maxBufferedBytes: num(values, 'maxBufferedBytes'),
    dataDir,
    journal: Object.freeze({
      fsync: fsync as FsyncMode,
      fsyncIntervalMs: num(values, 'fsyncIntervalMs'),
      segmentBytes: num(values, 'segmentBytes'),
      retainMessages: num(values, 'retainMessages'),
      retainBytes: num(values, 'retainBytes'),
      retainMs: num(values, 'retainMs'),
      cacheBytes: num(values, 'cacheBytes'),
    }),
    dedupeWindowMs: num(values, 'dedupeWindowMs'),
    dedupeMaxEntries: num(values, 'dedupeMaxEntries'),
    maxConsumers: num(values, 'maxConsumers'),
    consumerTtlMs: num(values, 'consumerTtlMs'),
    cursorFlushIntervalMs: num(values, 'cursorFlushIntervalMs'),
    maxInflightAppends: num(values, 'maxInflightAppends'),
    maxConsumerWindowMessages: num(values, 'maxConsumerWindowMessages'),
    consumerBatchMessages: num(values, 'consumerBatchMessages'),
    consumerBatchBytes: num(values, 'consumerBatchBytes'),
    replayScanLimit: num(values, 'replayScanLimit'),
    replayBatchBytes: num(values, 'replayBatchBytes'),
    maxPendingReplays: num(values, 'maxPendingReplays'),
  };
  return Object.freeze(config);
}
