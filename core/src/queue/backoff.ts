/** Exponential backoff with full jitter: delay n is random in [min, min(max, min * 2^n)]. */
export interface Backoff {
  next(): number;
  reset(): void;
}

export function createBackoff(minMs: number, maxMs: number, random: () => number = Math.random): Backoff {
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
