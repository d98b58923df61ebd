/**
 * Every error wsq reports to a peer has a stable string code. This file is the one table
 * that maps each code to its wire outcome; handlers look outcomes up here and never invent
 * their own. docs/errors.md is kept in step with it by a test.
 */

/** WebSocket close codes used by wsq (RFC 6455 section 7.4 plus 1013 "try again later"). */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  INVALID_PAYLOAD: 1007,
  POLICY: 1008,
  TOO_LARGE: 1009,
  INTERNAL: 1011,
  TRY_AGAIN: 1013,
} as const;
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** Codes carried by `error` frames of the wsq.v1 protocol (DESIGN section 3.2). */
export const FRAME_ERRORS = {
  BAD_FRAME: 'the frame is not valid JSON or not a valid wsq.v1 frame',
  BAD_TOPIC: 'the topic or subscription pattern is not valid',
  FORBIDDEN: 'the user may not publish or subscribe there',
  TOO_LARGE: 'the message is larger than the configured limit',
  RATE_LIMITED: 'the connection publishes faster than its rate limit',
  LIMIT_EXCEEDED: 'a per-connection limit (such as subscriptions) is reached',
  UNAVAILABLE: 'the message queue cannot take the message right now; retry later',
  INTERNAL: 'an unexpected server error',
} as const;
export type FrameErrorCode = keyof typeof FRAME_ERRORS;

export const FRAME_ERROR_CODES = Object.keys(FRAME_ERRORS) as FrameErrorCode[];

/**
 * The HTTP status of each frame error code when it answers an HTTP API request (DESIGN
 * section 7), with the body `{"error":{"code","message"}}`.
 */
export const FRAME_ERROR_STATUS: Readonly<Record<FrameErrorCode, number>> = {
  BAD_FRAME: 400,
  BAD_TOPIC: 400,
  FORBIDDEN: 403,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  LIMIT_EXCEEDED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** HTTP outcomes of upgrade and plain requests. */
export const HTTP_ERRORS = {
  UNAUTHORIZED: { status: 401, text: 'missing or wrong credentials' },
  FORBIDDEN_ORIGIN: { status: 403, text: 'origin not allowed' },
  FORBIDDEN: { status: 403, text: 'the user may not do this' },
  NOT_FOUND: { status: 404, text: 'no such path' },
  CONFLICT: { status: 409, text: 'the resource is in use' },
  NOT_WEBSOCKET: { status: 400, text: 'this path only accepts WebSocket upgrades' },
  NOT_UPGRADABLE: { status: 400, text: 'this path does not accept WebSocket upgrades' },
  BAD_SUBPROTOCOL: { status: 400, text: 'unsupported WebSocket subprotocol' },
  METHOD_NOT_ALLOWED: { status: 405, text: 'method not allowed' },
  OVERLOADED: { status: 503, text: 'too many connections' },
  BAD_PARAMETER: { status: 400, text: 'a query parameter is not valid' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, text: 'the body must be application/json' },
} as const;
export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/**
 * A fault in what a peer sent. `code` is what the peer sees; the message is for humans and
 * logs only (tests and handlers never branch on it).
 */
export class ProtocolError extends Error {
  readonly code: FrameErrorCode;
  /** The request id to echo in the error frame, when the frame had one. */
  readonly id: string | undefined;
  constructor(code: FrameErrorCode, message: string, id?: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.id = id;
  }
}

/**
 * Invalid configuration, and main.ts exits 2 with it. `field` is the option's key; the message
 * starts with `where` when given (what the operator typed: `WSQ_PORT`, `--port`, a file and
 * key), else with the field.
 */
export class ConfigError extends Error {
  readonly code = 'BAD_CONFIG';
  readonly field: string;
  /** The message without its leading name. */
  readonly detail: string;
  constructor(field: string, message: string, where?: string) {
    super(`${where ?? field}: ${message}`);
    this.name = 'ConfigError';
    this.field = field;
    this.detail = message;
  }
}
