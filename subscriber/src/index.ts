/** The subscriber service, as a library (tests, embedding). main.ts is the CLI. */
export { createSubscriber } from './service.js';
export type { Subscriber, SubscriberDeps } from './service.js';
export { OPTIONS, SUBSCRIBER_PORT, checkSubscriberValues, toSubscriberConfig } from './options.js';
export type { SubscriberConfig } from './options.js';
export type { RouterStats } from './router.js';
