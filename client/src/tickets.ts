/**
 * Browser tickets (DESIGN 2): browsers cannot send Authorization on a WebSocket, so they get
 * a single-use ticket from `POST /v1/tickets` (Basic Auth) and open `wss://…?ticket=…`.
 */
import { httpError, WsqError } from './errors.js';

export const TICKETS_PATH = '/v1/tickets';

/** Base64 of a UTF-8 string, with browser and Node built-ins only. */
export function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** `https://host:port` of a wss:// (or ws://) URL: where its service answers /v1/tickets. */
export function httpBaseOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  const scheme = u.protocol === 'ws:' ? 'http:' : 'https:';
  return `${scheme}//${u.host}`;
}

/**
 * Asks `baseUrl` (e.g. `https://localhost:8082`) for a ticket. Rejects with WsqError:
 * UNAUTHORIZED (401), FORBIDDEN_ORIGIN (403), REJECTED (other statuses), UNREACHABLE.
 */
export async function fetchTicket(
  baseUrl: string,
  user: string,
  password: string,
  fetchFn: typeof fetch = globalThis.fetch,
): Promise<string> {
  const where = `${baseUrl}${TICKETS_PATH}`;
  let res: Response;
  try {
    res = await fetchFn(where, {
      method: 'POST',
      headers: { Authorization: `Basic ${base64Utf8(`${user}:${password}`)}` },
      credentials: 'omit',
    });
  } catch (err) {
    throw new WsqError('UNREACHABLE', `${where}: ${(err as Error).message}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw httpError(where, res.status);
  }
  const body = (await res.json()) as { ticket?: unknown };
  if (typeof body.ticket !== 'string') throw new WsqError('PROTOCOL', `${where}: the answer has no ticket`);
  return body.ticket;
}

/** `url` with `?ticket=` set. */
export function withTicket(url: string, ticket: string): string {
  const u = new URL(url);
  u.searchParams.set('ticket', ticket);
  return u.toString();
}
