/**
 * What can go wrong for a client, as stable codes (tests assert codes), each with the one-line
 * human explanation the CLI prints. Node's socket and TLS error codes are mapped here only.
 */
import { CERT_ERRORS } from '@wsq/client';

export const CLIENT_ERRORS = {
  UNAUTHORIZED: 'wrong user or password',
  UNTRUSTED_CERT: 'server certificate not trusted',
  REFUSED: 'connection refused: is the service running?',
  UNREACHABLE: 'cannot reach the server',
  REJECTED: 'the server refused the WebSocket upgrade',
  TIMEOUT: 'no answer in time',
  CLOSED: 'the connection closed',
  NOT_CONNECTED: 'not connected',
  SERVER_ERROR: 'the server answered with an error frame',
} as const;
export type ClientErrorCode = keyof typeof CLIENT_ERRORS;

export type EndpointName = 'publisher' | 'subscriber';

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** HTTP status of a refused upgrade. */
  readonly status: number | undefined;
  /** The `code` of a wsq.v1 error frame (SERVER_ERROR), or the Node error code behind a socket failure. */
  readonly detail: string | undefined;
  constructor(code: ClientErrorCode, message: string, extra: { status?: number; detail?: string } = {}) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
    this.status = extra.status;
    this.detail = extra.detail;
  }
}

const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);

/** Maps a failure while opening a WebSocket to a ClientError with a hint. */
export function connectError(endpoint: EndpointName, url: string, err: Error): ClientError {
  const nodeCode = (err as NodeJS.ErrnoException).code ?? '';
  const where = `${endpoint} ${url}`;
  if (CERT_ERRORS.has(nodeCode)) {
    return new ClientError(
      'UNTRUSTED_CERT',
      `${where}: ${CLIENT_ERRORS.UNTRUSTED_CERT} (${nodeCode}): pass the CA that signed it with --ca FILE ` +
        '(npm start writes certs/ca.crt), or --insecure to skip verification (testing only)',
      { detail: nodeCode },
    );
  }
  if (nodeCode === 'ECONNREFUSED') {
    return new ClientError('REFUSED', `${where}: ${CLIENT_ERRORS.REFUSED}`, { detail: nodeCode });
  }
  if (UNREACHABLE.has(nodeCode)) {
    return new ClientError('UNREACHABLE', `${where}: ${CLIENT_ERRORS.UNREACHABLE} (${nodeCode})`, { detail: nodeCode });
  }
  if (/timed out/i.test(err.message) || nodeCode === 'ETIMEDOUT') {
    return new ClientError('TIMEOUT', `${where}: ${CLIENT_ERRORS.TIMEOUT} (opening handshake)`, { detail: nodeCode });
  }
  return new ClientError('UNREACHABLE', `${where}: ${err.message}`, { detail: nodeCode });
}

/** Maps the HTTP answer to an upgrade (anything but 101). */
export function upgradeError(endpoint: EndpointName, url: string, status: number, v1: boolean): ClientError {
  const where = `${endpoint} ${url}`;
  if (status === 401) {
    return new ClientError('UNAUTHORIZED', `${where}: ${CLIENT_ERRORS.UNAUTHORIZED} (HTTP 401)`, { status });
  }
  const hint =
    status === 400 && v1
      ? ': does it speak wsq.v1? try --protocol legacy'
      : status === 403
        ? ': origin not allowed'
        : status === 404
          ? ': wrong path in the URL?'
          : status === 503
            ? ': overloaded or shutting down, retry later'
            : '';
  return new ClientError('REJECTED', `${where}: ${CLIENT_ERRORS.REJECTED} (HTTP ${status})${hint}`, { status });
}

/** Describes a close code the way DESIGN 3.3 names it. */
export function describeClose(code: number, reason: string): string {
  const names: Record<number, string> = {
    1000: 'normal',
    1001: 'server shutting down',
    1006: 'connection lost',
    1007: 'invalid UTF-8',
    1008: 'policy violation',
    1009: 'frame too large',
    1011: 'internal server error',
    1013: 'slow consumer or overloaded',
  };
  const name = names[code] ?? 'closed';
  return reason ? `${code} ${name}: ${reason}` : `${code} ${name}`;
}
