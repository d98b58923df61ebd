/**
 * Every failure the SDK reports is a WsqError with a stable `code`: the server's error-frame
 * codes (docs/errors.md) as they arrive, and the client's own below. Branch on `code`.
 */

/** Codes a wsq.v1 server puts in an error frame (DESIGN 3.2). */
export const SERVER_CODES = [
  'BAD_FRAME',
  'BAD_TOPIC',
  'FORBIDDEN',
  'TOO_LARGE',
  'RATE_LIMITED',
  'LIMIT_EXCEEDED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;
export type ServerCode = (typeof SERVER_CODES)[number];

/** The client's own codes, each with the sentence it means. */
export const CLIENT_CODES = {
  UNAUTHORIZED: 'wrong user, password or ticket (HTTP 401)',
  FORBIDDEN_ORIGIN: 'the page origin is not in the server --allowed-origins (HTTP 403)',
  REJECTED: 'the server refused the WebSocket upgrade',
  UNTRUSTED_CERT: 'the server certificate is not trusted (pass the CA that signed it)',
  UNREACHABLE: 'cannot reach the server',
  CONNECT_TIMEOUT: 'the connection did not open in time',
  ACK_TIMEOUT: 'no acknowledgement in time',
  MAX_PENDING: 'too many publishes waiting for their acknowledgement',
  POLICY: 'the server closed the connection for a policy violation (1008); not retried',
  CLOSED: 'the client is closed',
  PROTOCOL: 'the server sent a frame that is not wsq.v1',
  DUPLICATE_SUBSCRIPTION: 'this client already has a subscription with that pattern',
  BAD_ARGUMENT: 'invalid argument',
} as const;
export type ClientCode = keyof typeof CLIENT_CODES;

export type WsqErrorCode = ServerCode | ClientCode;

export type Endpoint = 'publisher' | 'subscriber';

export class WsqError extends Error {
  readonly code: WsqErrorCode;
  /** HTTP status of a refused upgrade or ticket request, when known. */
  readonly status: number | undefined;
  /** The WebSocket close code behind the failure, when there was one. */
  readonly closeCode: number | undefined;
  /** The connection it happened on. */
  readonly endpoint: Endpoint | undefined;
  /** The platform's own code for a socket failure (Node: ECONNREFUSED, CERT_HAS_EXPIRED…). */
  readonly detail: string | undefined;
  constructor(
    code: WsqErrorCode,
    message: string,
    extra: { status?: number; closeCode?: number; endpoint?: Endpoint; detail?: string } = {},
  ) {
    super(message);
    this.name = 'WsqError';
    this.code = code;
    this.status = extra.status;
    this.closeCode = extra.closeCode;
    this.endpoint = extra.endpoint;
    this.detail = extra.detail;
  }
}

export function isServerCode(code: unknown): code is ServerCode {
  return typeof code === 'string' && (SERVER_CODES as readonly string[]).includes(code);
}

/** The error for an HTTP status answering an upgrade or a ticket request. */
export function httpError(where: string, status: number, endpoint?: Endpoint): WsqError {
  const extra = { status, ...(endpoint ? { endpoint } : {}) };
  if (status === 401) return new WsqError('UNAUTHORIZED', `${where}: ${CLIENT_CODES.UNAUTHORIZED}`, extra);
  if (status === 403) return new WsqError('FORBIDDEN_ORIGIN', `${where}: ${CLIENT_CODES.FORBIDDEN_ORIGIN}`, extra);
  return new WsqError('REJECTED', `${where}: ${CLIENT_CODES.REJECTED} (HTTP ${status})`, extra);
}

/** Failures that retrying cannot fix: wrong credentials, a refused origin, a policy close. */
export function isFatal(err: WsqError): boolean {
  return err.code === 'UNAUTHORIZED' || err.code === 'FORBIDDEN_ORIGIN' || err.code === 'POLICY';
}
