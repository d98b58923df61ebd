/**
 * Plain HTTP answers of the service server: refusals of upgrade requests (written on the raw
 * socket, before any WebSocket exists) and of plain requests, each looked up in HTTP_ERRORS.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HTTP_ERRORS, type HttpErrorCode } from './errors.js';

export const BASIC_CHALLENGE = Object.freeze({ 'WWW-Authenticate': 'Basic realm="wsq"' });

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  503: 'Service Unavailable',
};

/** Answers an upgrade request with an HTTP error and closes the socket. */
export function rejectUpgrade(socket: Socket, code: HttpErrorCode, extra: Record<string, string> = {}): void {
  const { status, text } = HTTP_ERRORS[code];
  const headers = Object.entries({
    'Content-Type': 'text/plain',
    'Content-Length': String(Buffer.byteLength(text) + 1),
    Connection: 'close',
    ...extra,
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // As ws does: destroy once the answer is flushed, not before (destroying right away can lose it).
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n${headers}\r\n${text}\n`);
}

export function sendHttpError(res: ServerResponse, code: HttpErrorCode, extra: Record<string, string> = {}): void {
  const { status, text } = HTTP_ERRORS[code];
  res.writeHead(status, { 'Content-Type': 'text/plain', ...extra }).end(text + '\n');
}
