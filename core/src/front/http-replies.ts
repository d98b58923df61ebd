/**
 * Plain HTTP answers of the service server. A Reply is a whole answer (status, headers, body),
 * written either as the response to a plain request or straight on the socket of an upgrade
 * request, before any WebSocket exists. Error answers are looked up in HTTP_ERRORS.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HTTP_ERRORS, type HttpErrorCode } from '../protocol/errors.js';

export const BASIC_CHALLENGE = Object.freeze({ 'WWW-Authenticate': 'Basic realm="wsq"' });

export interface Reply {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: string;
}

export function errorReply(code: HttpErrorCode, extra: Record<string, string> = {}): Reply {
  const { status, text } = HTTP_ERRORS[code];
  return { status, headers: { 'Content-Type': 'text/plain', ...extra }, body: text + '\n' };
}

/** A JSON answer. */
export function jsonReply(status: number, body: unknown, extra: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...extra },
    body: JSON.stringify(body),
  };
}

/** An error of the table as JSON, `{"error":{"code","message"}}` (the HTTP API's error shape). */
export function jsonErrorReply(code: HttpErrorCode, message?: string, extra: Record<string, string> = {}): Reply {
  const { status, text } = HTTP_ERRORS[code];
  return jsonReply(status, { error: { code, message: message ?? text } }, extra);
}

/**
 * Writes a reply as the response. Content-Length is always the body's, so a HEAD response
 * (whose body Node drops) carries the same headers as the GET one.
 */
export function sendReply(res: ServerResponse, reply: Reply): void {
  res
    .writeHead(reply.status, { ...reply.headers, 'Content-Length': String(Buffer.byteLength(reply.body)) })
    .end(reply.body);
}

/** Writes a reply on an upgrade request's raw socket and closes it; `withBody` is false for HEAD. */
export function sendRawReply(socket: Socket, reply: Reply, withBody = true): void {
  const headers = Object.entries({
    ...reply.headers,
    'Content-Length': String(Buffer.byteLength(reply.body)),
    Connection: 'close',
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // As ws does: destroy once the answer is flushed, not before (destroying right away can lose it).
  socket.once('finish', () => socket.destroy());
  const statusText = STATUS_CODES[reply.status] ?? 'Error';
  socket.end(`HTTP/1.1 ${reply.status} ${statusText}\r\n${headers}\r\n${withBody ? reply.body : ''}`);
}

/** Answers an upgrade request with an HTTP error and closes the socket. */
export function rejectUpgrade(socket: Socket, code: HttpErrorCode, extra: Record<string, string> = {}): void {
  sendRawReply(socket, errorReply(code, extra));
}

export function sendHttpError(res: ServerResponse, code: HttpErrorCode, extra: Record<string, string> = {}): void {
  sendReply(res, errorReply(code, extra));
}
