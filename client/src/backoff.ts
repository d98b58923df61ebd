/**
 * Exponential backoff with full jitter (docs/protocol.md 2.5): attempt n waits a random time in
 * [minMs, min(maxMs, minMs * 2^n)], so clients that lost the same server do not return together.
 */
export interface Backoff {
  next(): number;
  reset(): void;
}

export function createBackoff(minMs: number, maxMs: number, random: () => number = Math.random): Backoff {
  if (!(minMs >= 0) || !(maxMs >= minMs)) throw new RangeError('backoff needs 0 <= minMs <= maxMs');
  let attempt = 0;
  return {
    next() {
      const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
      attempt++;
      return Math.round(minMs + random() * Math.max(0, ceiling - minMs));
    },
    reset() {
      attempt = 0;
    },
  };
}
