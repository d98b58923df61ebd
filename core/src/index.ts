/** The public surface of @wsq/core, re-exported by name. */
export { CLOSE, FRAME_ERRORS, FRAME_ERROR_CODES, HTTP_ERRORS, ProtocolError, ConfigError } from './errors.js';
export type { CloseCode, FrameErrorCode, HttpErrorCode } from './errors.js';
export { MAX_TOPIC_LENGTH, isValidTopic, isValidPattern, matchesPattern, patternCovers } from './topics.js';
export { TopicIndex } from './topic-index.js';
export {
  decodeLegacy,
  decodeLegacyToData,
  encodeLegacy,
  encodeLegacyData,
  dataToContent,
  contentToData,
} from './legacy.js';
export type { LegacyMessage } from './legacy.js';
export {
  V1_PROTOCOL,
  MAX_ID_LENGTH,
  CLIENT_OPS,
  decodeClientFrame,
  decodeServerFrame,
  encodeAck,
  encodeSubscribed,
  encodeUnsubscribed,
  encodeMsg,
  encodeError,
} from './v1.js';
export type {
  ClientFrame,
  PubFrame,
  SubFrame,
  UnsubFrame,
  ServerFrame,
  AckFrame,
  SubscribedFrame,
  UnsubscribedFrame,
  MsgFrame,
  ErrorFrame,
} from './v1.js';
export {
  LINK_PROTOCOL,
  MAX_CONSUMER_NAME_LENGTH,
  decodeLinkRequest,
  decodeLinkReply,
  encodeLink,
  receivedFrame,
} from './link.js';
export type { LinkRequest, LinkReply, LinkAppendItem, LinkMessage, LinkFrame } from './link.js';
export { appendRefOf, MsgsFrameBuilder } from './link-binary.js';
export { generatedPid, isProducerId, GENERATED_PID_START, PRODUCER_ID_LENGTH } from './generated-pid.js';
export { turnDateNow, turnNow } from './turn-clock.js';
export { rawSocketOf, putTextFrameHeader, textFrameHeaderBytes } from './raw-frames.js';
export type { RawSocket } from './raw-frames.js';
export { parseObject, isNonNegativeInt } from './json.js';
export { loadConfig, resolveValues, coerce, printableConfig, flagName, envName } from './config.js';
export type { OptionSpec, OptionType, ConfigValues, LoadOptions, LoadResult } from './config.js';
export { commonOptions, LINK_OPTIONS, LOG_LEVELS, DEMO_USER, DEMO_PASSWORD } from './options.js';
export { loadTlsFiles, generateCerts, ensureCerts } from './tls.js';
export type { TlsFiles, GeneratedCerts } from './tls.js';
export {
  hashPassword,
  verifyPassword,
  parseUsersFile,
  readUsersFile,
  writeUsersFile,
  USER_NAME_PATTERN,
} from './users.js';
export type { UsersFile, UserRecord } from './users.js';
export { createAuthenticator, canPublish, canSubscribe, warnAboutUsers } from './auth.js';
export type { Authenticator, AuthOptions, Principal } from './auth.js';
export { AuthBusyError, VERIFY_DEFAULTS, createVerifyGate, sourceOf } from './verify-gate.js';
export type { VerifyGate, VerifyLimits } from './verify-gate.js';
export { createTicketStore, TICKET_DEFAULTS } from './tickets.js';
export type { TicketStore, TicketOptions, IssuedTicket } from './tickets.js';
export { createLogger, connectionId } from './log.js';
export type { Logger, LogOptions } from './log.js';
export {
  createMetrics,
  closeReasonOfWsError,
  LATENCY_BUCKETS,
  DEFAULT_METRICS_PREFIX,
  CLOSE_REASONS,
  DROP_REASONS,
  AUTH_FAILURE_REASONS,
} from './metrics.js';
export type {
  BaseMetrics,
  Collect,
  TallyCell,
  TallyHistogram,
  CloseReason,
  DropReason,
  AuthFailureReason,
} from './metrics.js';
export { createBackoff } from './backoff.js';
export type { Backoff } from './backoff.js';
export { originAllowed } from './origins.js';
export { createServiceServer, sendHttpError } from './service-server.js';
export { TICKETS_PATH } from './ticket-endpoint.js';
export type {
  ServiceServer,
  ServiceServerOptions,
  ServerLimits,
  WsRoute,
  ConnectionContext,
} from './service-server.js';
export { runService } from './run.js';
export type { ServiceHandle, RunOptions } from './run.js';
export type {
  QueueMessage,
  AppendRequest,
  AppendDone,
  LinkState,
  QueueLinkEvents,
  QueueProducer,
  QueueConsumer,
  ReplayResult,
} from './queue.js';
export { createLinkClient, describeLinkError, LINK_MAX_PAYLOAD_BYTES } from './link-client.js';
export type { LinkClient, LinkClientOptions, LinkHandlers } from './link-client.js';
export { createQueueProducer, PRODUCER_DEFAULTS } from './queue-producer.js';
export type { QueueProducerOptions } from './queue-producer.js';
export { createQueueConsumer, CONSUMER_DEFAULTS, MAX_PENDING_REPLAYS } from './queue-consumer.js';
export type { QueueConsumerOptions } from './queue-consumer.js';
export { toCommonConfig, toLinkConfig, checkLinkValues, linkClientOptions } from './service-config.js';
export type { CommonConfig, LinkConfig } from './service-config.js';
export { freePort } from './free-port.js';
