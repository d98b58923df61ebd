/**
 * The benchmark payload: `~<message index>~<send time ms>~xxxx…`, padded to the payload size.
 * The send time is `performance.timeOrigin + performance.now()` with a microsecond fraction,
 * comparable across the worker threads of one process. The payload holds only digits, `.`,
 * `~` and `x`, so it is the same bytes inside a JSON string (legacy, v1) or raw (NATS), and a
 * receiver finds it by scanning for the first `~` without parsing the frame.
 */

const TILDE = 0x7e;
const DOT = 0x2e;
const ZERO = 0x30;
const P = 0x70;

/** Room for `~<index>~<time>~` with a 9-digit index and a 17-character time. */
export const MIN_PAYLOAD_BYTES = 32;

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function pad(head: string, bytes: number): string {
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length);
}

export function encodePayload(index: number, sentAtMs: number, bytes: number): string {
  return pad(`~${index}~${sentAtMs.toFixed(3)}~`, bytes);
}

/** A readiness probe (legacy subscriptions have no ack): receivers ignore it for counting. */
export function encodeProbe(bytes: number): string {
  return pad('~p~', bytes);
}

/** What parseStamp found; reused between calls so the receive path allocates nothing. */
export interface Stamp {
  kind: 'msg' | 'probe' | 'none';
  index: number;
  sentAtMs: number;
}

export function newStamp(): Stamp {
  return { kind: 'none', index: -1, sentAtMs: 0 };
}

/**
 * Finds the payload in a frame (legacy/v1 JSON text or a raw NATS payload) between `start` and
 * `end` and reads it into `out`.
 */
export function parseStamp(buf: Uint8Array, out: Stamp, start = 0, end = buf.length): Stamp {
  out.kind = 'none';
  let i = buf.indexOf(TILDE, start);
  if (i < 0 || i + 1 >= end) return out;
  i++;
  if (buf[i] === P) {
    out.kind = 'probe';
    return out;
  }
  let index = 0;
  let digits = 0;
  for (; i < end && buf[i] !== TILDE; i++, digits++) {
    const d = buf[i] - ZERO;
    if (d < 0 || d > 9) return out;
    index = index * 10 + d;
  }
  if (digits === 0 || i >= end) return out;
  i++;
  let whole = 0;
  let frac = 0;
  let scale = 1;
  let seenDot = false;
  digits = 0;
  for (; i < end && buf[i] !== TILDE; i++, digits++) {
    const c = buf[i];
    if (c === DOT && !seenDot) {
      seenDot = true;
      continue;
    }
    const d = c - ZERO;
    if (d < 0 || d > 9) return out;
    if (seenDot) {
      frac = frac * 10 + d;
      scale *= 10;
    } else whole = whole * 10 + d;
  }
  if (digits === 0 || i >= end) return out;
  out.kind = 'msg';
  out.index = index;
  out.sentAtMs = whole + frac / scale;
  return out;
}
