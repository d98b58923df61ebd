/**
 * Browser tickets. Browsers cannot set `Authorization` on a WebSocket, so a page first asks
 * `POST /v1/tickets` with Basic Auth and then opens `wss://…?ticket=…`. A ticket is 32 random
 * bytes (base64url), valid once and for `ttlMs`. The store keeps only a SHA-256 of each ticket,
 * so neither a heap dump nor the lookup's timing gives a usable ticket away, and it is bounded:
 * past `maxTickets` the oldest are forgotten. Expired tickets are swept lazily, from the oldest,
 * on every issue and redeem (all share one ttl, so insertion order is expiry order).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from './auth.js';

export interface TicketOptions {
  /** How long a ticket stays valid. */
  ttlMs: number;
  /** Most tickets held at once; the oldest are evicted first. */
  maxTickets: number;
}

export interface IssuedTicket {
  ticket: string;
  /** When it stops being valid, in ms since the epoch. */
  expiresAt: number;
}

export interface TicketStore {
  issue(principal: Principal): IssuedTicket;
  /**
   * The ticket's principal without using it up; null when unknown, used or expired. An upgrade
   * peeks first and redeems only once every other check passed, so a refusal for another
   * reason leaves the ticket usable.
   */
  peek(ticket: string): Principal | null;
  /** The ticket's principal, once; null when unknown, used or expired. */
  redeem(ticket: string): Principal | null;
  /** Tickets currently held (valid or not yet swept). */
  readonly size: number;
}

export const TICKET_DEFAULTS: TicketOptions = Object.freeze({ ttlMs: 30_000, maxTickets: 100_000 });

/** Longest ticket accepted for a lookup: 32 bytes in base64url are 43 characters. */
const MAX_TICKET_LENGTH = 64;

function keyOf(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64');
}

export function createTicketStore(
  opts: TicketOptions = TICKET_DEFAULTS,
  deps: { now?: () => number } = {},
): TicketStore {
  if (!(opts.ttlMs > 0) || !Number.isInteger(opts.maxTickets) || opts.maxTickets < 1) {
    throw new RangeError('ticket store needs ttlMs > 0 and maxTickets >= 1');
  }
  const now = deps.now ?? Date.now;
  const held = new Map<string, { principal: Principal; expiresAt: number }>();

  function sweep(at: number): void {
    for (const [key, entry] of held) {
      if (entry.expiresAt > at) break;
      held.delete(key);
    }
  }

  return {
    get size() {
      return held.size;
    },
    issue(principal) {
      const at = now();
      sweep(at);
      while (held.size >= opts.maxTickets) held.delete(held.keys().next().value!);
      const ticket = randomBytes(32).toString('base64url');
      const expiresAt = at + opts.ttlMs;
      held.set(keyOf(ticket), { principal, expiresAt });
      return { ticket, expiresAt };
    },
    peek(ticket) {
      const at = now();
      sweep(at);
      if (ticket.length === 0 || ticket.length > MAX_TICKET_LENGTH) return null;
      const entry = held.get(keyOf(ticket));
      return entry && entry.expiresAt > at ? entry.principal : null;
    },
    redeem(ticket) {
      const at = now();
      sweep(at);
      if (ticket.length === 0 || ticket.length > MAX_TICKET_LENGTH) return null;
      const key = keyOf(ticket);
      const entry = held.get(key);
      if (!entry) return null;
      held.delete(key);
      return entry.expiresAt > at ? entry.principal : null;
    },
  };
}
