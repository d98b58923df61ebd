/** The public surface of @wsq/msgqueue. */
export { createMsgqueue, JOURNAL_SUBDIR, CURSORS_SUBDIR } from './service.js';
export type { Msgqueue, MsgqueueDeps } from './service.js';
export { OPTIONS, FSYNC_MODES, toConfig } from './options.js';
export type { MsgqueueConfig } from './options.js';
export { PUSH_PATH, POP_PATH } from './links/queue-context.js';
export { LEGACY_CONSUMER_NAME } from './links/legacy-link.js';
export type { FsyncMode } from './journal/journal.js';
export { openQueueStore } from './store.js';
export type { QueueStore, QueueStoreDeps } from './store.js';
export { embeddedQueueHome, EMBEDDED_WHERE } from './embedded/home.js';
export type { EmbeddedHomeOptions } from './embedded/home.js';
export { consumerAdminRoutes, CONSUMERS_PATH } from './consumers/admin-api.js';
export type { ConsumerLifecycle, ConsumerView } from './consumers/lifecycle.js';
