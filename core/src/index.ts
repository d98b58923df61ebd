/** The public surface of @wsq/core, re-exported by name. */
export {
  CLOSE,
  FRAME_ERRORS,
  FRAME_ERROR_CODES,
  FRAME_ERROR_STATUS,
  HTTP_ERRORS,
  ProtocolError,
  ConfigError,
} from './protocol/errors.js';
export type { CloseCode, FrameErrorCode, HttpErrorCode } from './protocol/errors.js';
export { MAX_TOPIC_LENGTH, isValidTopic, isValidPattern, matchesPattern, patternCovers } from './protocol/topics.js';
export { TopicIndex } from './protocol/topic-index.js';
export {
  decodeLegacy,
  decodeLegacyToData,
  encodeLegacy,
  encodeLegacyData,
  dataToContent,
  contentToData,
} from './protocol/legacy.js';
export type { LegacyMessage } from './protocol/legacy.js';
export {
  V1_PROTOCOL,
  MAX_ID_LENGTH,
  decodeClientFrame,
  decodeServerFrame,
  encodeAck,
  encodeSubscribed,
  encodeUnsubscribed,
  encodeMsg,
  encodeError,
} from './protocol/v1.js';
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
} from './protocol/v1.js';
export {
  LINK_PROTOCOL,
  MAX_CONSUMER_NAME_LENGTH,
  decodeLinkRequest,
  decodeLinkReply,
  encodeLink,
  receivedFrame,
} from './protocol/link.js';
export type { LinkRequest, LinkReply, LinkAppendItem, LinkMessage, LinkFrame } from './protocol/link.js';
export { appendRefOf, MsgsFrameBuilder } from './protocol/link-binary.js';
export {
  decodePostBody,
  decodeHistoryQuery,
  ParameterError,
  HISTORY_DEFAULT_LIMIT,
  MESSAGES_PATH,
  HISTORY_MAX_LIMIT,
} from './protocol/http-messages.js';
export type { PostedMessage, PostedBody, HistoryQuery } from './protocol/http-messages.js';
export { generatedPid, isProducerId, GENERATED_PID_START, PRODUCER_ID_LENGTH } from './protocol/generated-pid.js';
export { turnDateNow, turnNow } from './observe/turn-clock.js';
export { putTextFrameHeader, textFrameHeaderBytes } from './front/raw-frames.js';
export { beforeClose, rawSocketOf } from './front/ws-adapter.js';
export type { RawSocket } from './front/ws-adapter.js';
export { wsqVersion } from './observe/build-info.js';
export { parseObject, isNonNegativeInt } from './protocol/json.js';
export { loadConfig, resolveValues, printableConfig, flagName, envName } from './config/config.js';
export { versionLine } from './config/version.js';
export type { OptionSpec, OptionType, ConfigValues, LoadOptions, LoadResult } from './config/config.js';
export {
  commonOptions,
  LINK_OPTIONS,
  JETSTREAM_OPTIONS,
  LOG_LEVELS,
  DEMO_USER,
  DEMO_PASSWORD,
} from './config/options.js';
export { loadTlsFiles, frontTls, generateCerts, ensureCerts } from './front/tls.js';
export { loadCertKeyPair, watchTlsFiles, type TlsReloader } from './front/tls-reload.js';
export type { TlsFiles, GeneratedCerts } from './front/tls.js';
export {
  hashPassword,
  verifyPassword,
  parseUsersFile,
  readUsersFile,
  writeUsersFile,
  USER_NAME_PATTERN,
} from './front/users.js';
export type { UsersFile, UserRecord } from './front/users.js';
export { createAuthenticator, canPublish, canSubscribe, serviceAuthenticator, warnAboutUsers } from './front/auth.js';
export type { Authenticator, AuthOptions, Principal } from './front/auth.js';
export { AuthBusyError, VERIFY_DEFAULTS, createVerifyGate, sourceOf } from './front/verify-gate.js';
export type { VerifyGate, VerifyLimits } from './front/verify-gate.js';
export { createTicketStore, TICKET_DEFAULTS } from './front/tickets.js';
export { apiErrorStatus, isJsonContentType, readBody, sendApiError, sendJson } from './front/http-api.js';
export type { ApiErrorCode, BodyResult } from './front/http-api.js';
export type { ApiContext, ApiRoute } from './front/api-routes.js';
export { openapiDocument } from './front/openapi.js';
export type { TicketStore, TicketOptions, IssuedTicket } from './front/tickets.js';
export { createLogger, connectionId } from './observe/log.js';
export type { Logger, LogOptions } from './observe/log.js';
export {
  createMetrics,
  closeReasonOfWsError,
  LATENCY_BUCKETS,
  CLOSE_REASONS,
  DROP_REASONS,
  AUTH_FAILURE_REASONS,
} from './observe/metrics.js';
export type {
  BaseMetrics,
  Collect,
  TallyCell,
  SocketTraffic,
  ByteCounted,
  MetricsOptions,
  CloseReason,
  DropReason,
  AuthFailureReason,
} from './observe/metrics.js';
export { createBackoff } from './queue/backoff.js';
export type { Backoff } from './queue/backoff.js';
export { originAllowed } from './front/origins.js';
export { createServiceServer, sendHttpError } from './front/service-server.js';
export { jsonReply, jsonErrorReply, sendReply } from './front/http-replies.js';
export type { Reply } from './front/http-replies.js';
export { TICKETS_PATH } from './front/ticket-endpoint.js';
export type {
  ServiceServer,
  ServiceServerOptions,
  ServerLimits,
  WsRoute,
  ConnectionContext,
} from './front/service-server.js';
export { runService } from './cli/run.js';
export type { ServiceHandle, RunOptions } from './cli/run.js';
export type {
  QueueMessage,
  AppendRequest,
  AppendDone,
  LinkState,
  QueueLinkEvents,
  QueueProducer,
  QueueConsumer,
  ReplayResult,
  ProducerHooks,
  ConsumerHooks,
  QueueHome,
} from './queue/queue.js';
export { Outbox, appendByOffer } from './queue/outbox.js';
export { FULL_BATCH_MESSAGES, SendSchedule } from './queue/send-schedule.js';
export { linkQueueHome } from './queue/link/home.js';
export type { LinkHomeConfig } from './queue/link/home.js';
export { createLinkClient, describeLinkError, LINK_MAX_PAYLOAD_BYTES } from './queue/link/link-client.js';
export type { LinkClient, LinkClientOptions, LinkHandlers } from './queue/link/link-client.js';
export { createQueueProducer, PRODUCER_DEFAULTS } from './queue/link/queue-producer.js';
export type { QueueProducerOptions } from './queue/link/queue-producer.js';
export { createQueueConsumer, CONSUMER_DEFAULTS, MAX_PENDING_REPLAYS } from './queue/link/queue-consumer.js';
export type { QueueConsumerOptions } from './queue/link/queue-consumer.js';
export {
  toCommonConfig,
  toLinkConfig,
  toJetStreamConfig,
  checkLinkValues,
  isNatsQueue,
} from './config/service-config.js';
export type { CommonConfig, LinkConfig, JetStreamConfig } from './config/service-config.js';
export { openQueueHome } from './queue/home.js';
export type { QueueHomeConfig, OpenQueueHomeOptions } from './queue/home.js';
export { jetstreamQueueHome, natsServers } from './queue/jetstream/home.js';
export type { JetStreamHome, JetStreamHomeConfig, JetStreamHomeOptions } from './queue/jetstream/home.js';
export type { JetStreamConsumer } from './queue/jetstream/consumer.js';
export { topicToSubject, subjectToTopic, patternToFilter } from './queue/jetstream/subjects.js';
export { freePort } from './cli/free-port.js';
