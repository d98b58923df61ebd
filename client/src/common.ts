/** What both entries export besides connect(). */
export { connectWith, DEFAULTS } from './client.js';
export type { ConnectOptions, ClientEvents, State, Wsq } from './client.js';
export { WsqError, CLIENT_CODES, SERVER_CODES } from './errors.js';
export type { WsqErrorCode, ClientCode, ServerCode, Endpoint } from './errors.js';
export { Subscription } from './subscription.js';
export type { Message, Gap, Subscribed, SubscriptionEvents } from './subscription.js';
export type { PublishOptions, PublishResult } from './publishes.js';
export type { SubscribeOptions } from './subscriptions.js';
export { fetchTicket, withTicket } from './tickets.js';
export { isValidPattern, isValidTopic, matchesPattern } from './topics.js';
export { createBackoff } from './backoff.js';
export type { Backoff } from './backoff.js';
export type { Platform, Socket, SocketHandlers, SocketRequest } from './transport.js';
