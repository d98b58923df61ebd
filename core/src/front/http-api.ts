/**
 * Answers and request bodies of the JSON HTTP API (DESIGN section 7). Errors come from the one
 * error table: a frame error code answers with FRAME_ERROR_STATUS, an HTTP error code with
 * HTTP_ERRORS; the body is always `{"error":{"code","message"}}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  FRAME_ERRORS,
  FRAME_ERROR_STATUS,
  HTTP_ERRORS,
  type FrameErrorCode,
  type HttpErrorCode,
} from '../protocol/errors.js';

export type ApiErrorCode = FrameErrorCode | HttpErrorCode;

export function apiErrorStatus(code: ApiErrorCode): number {
  return code in FRAME_ERROR_STATUS
    ? FRAME_ERROR_STATUS[code as FrameErrorCode]
    : HTTP_ERRORS[code as HttpErrorCode].status;
}

function defaultMessage(code: ApiErrorCode): string {
  return code in FRAME_ERRORS ? FRAME_ERRORS[code as FrameErrorCode] : HTTP_ERRORS[code as HttpErrorCode].text;
}

/** Writes a JSON answer (no-store: API answers are never cached). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
      ...headers,
      'Content-Length': String(Buffer.byteLength(text)),
    })
    .end(text);
}

/** Writes `{"error":{"code","message"}}` with the code's status from the error table. */
export function sendApiError(
  res: ServerResponse,
  code: ApiErrorCode,
  message: string = defaultMessage(code),
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, apiErrorStatus(code), { error: { code, message } }, headers);
}

/** Whether a Content-Type header names JSON (`application/json`, with or without parameters). */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json';
}

export type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: 'too_large' | 'aborted' };

/**
 * Reads a request body of at most `maxBytes`. A larger one (by Content-Length, or once the
 * bytes read pass it) is not read further: the answer is 'too_large' and the caller answers
 * 413 and closes the connection, so a huge body costs at most `maxBytes` of memory.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.pause();
    return Promise.resolve({ ok: false, reason: 'too_large' });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    const finish = (r: BodyResult): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > maxBytes) {
        req.pause();
        return finish({ ok: false, reason: 'too_large' });
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish({ ok: true, body: Buffer.concat(chunks, length) }));
    req.once('error', () => finish({ ok: false, reason: 'aborted' }));
    req.once('close', () => finish({ ok: false, reason: 'aborted' }));
  });
}
