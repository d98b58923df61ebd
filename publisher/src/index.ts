/** The publisher's public surface, re-exported by name. */
export { createPublisher } from './service.js';
export type { Publisher, PublisherDeps } from './service.js';
export { OPTIONS, DEFAULT_PORT, finishOptions, toPublisherConfig, publisherConfig } from './options.js';
export type { PublisherConfig } from './options.js';
export { PUBLISH_PATH, handlePublishConnection } from './connection.js';
export type { PublishEnv } from './connection.js';
export { createTokenBucket } from './rate-limit.js';
export type { TokenBucket } from './rate-limit.js';
export { publisherMetrics } from './metrics.js';
export type { PublisherMetrics, PublishProtocol } from './metrics.js';
