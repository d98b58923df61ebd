/**
 * A token bucket: `burst` tokens to start with, refilled continuously at `ratePerSec`, one
 * token per message. Lazy refill on take(), so a connection's limiter owns no timer.
 */
import { turnNow } from '@wsq/core';

export interface TokenBucket {
  /** Takes `n` tokens (default one); false, taking none, when fewer are left (over the rate). */
  take(n?: number): boolean;
  /** Seconds until `n` tokens will be there (0 when they are now). */
  waitSeconds(n: number): number;
  /** Tokens available now (fractional). */
  readonly tokens: number;
}

/**
 * `now` returns milliseconds; injectable so tests drive the clock. By default the clock is
 * read once per event-loop callback (turnNow), not once per message.
 */
export function createTokenBucket(ratePerSec: number, burst: number, now: () => number = turnNow): TokenBucket {
  if (!(ratePerSec > 0) || !(burst >= 1)) throw new RangeError('ratePerSec must be > 0 and burst >= 1');
  const perMs = ratePerSec / 1000;
  let tokens = burst;
  let last = now();

  function refill(): void {
    const t = now();
    if (t > last) {
      tokens = Math.min(burst, tokens + (t - last) * perMs);
      last = t;
    }
  }

  return {
    take(n = 1) {
      refill();
      if (tokens < n) return false;
      tokens -= n;
      return true;
    },
    waitSeconds(n) {
      refill();
      return tokens >= n ? 0 : (n - tokens) / ratePerSec;
    },
    get tokens() {
      refill();
      return tokens;
    },
  };
}
