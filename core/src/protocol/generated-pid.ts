/**
 * The pids a publisher generates for messages that carry no client id: `wsq:<producer>:<n>`,
 * where `producer` is 12 base64url characters chosen at random when the publisher starts and
 * `n` numbers its messages in base 36. On the binary link a generated pid travels as its
 * producer (once per append frame) and its counter (8 bytes per message), not as a string
 * per message; the msgqueue journals the spelled-out pid, so its dedupe and recovery see the
 * same pids either way.
 */
export const GENERATED_PID_START = 'wsq:';
export const PRODUCER_ID_LENGTH = 12;
/** Counters with at most 10 base-36 digits: 36^10 - 1 is still an exact double. */
export const MAX_PID_COUNTER = 36 ** 10 - 1;

const PRODUCER_ID = /^[A-Za-z0-9_-]{12}$/;

/** Whether `s` is a producer id: 12 base64url characters. */
export function isProducerId(s: string): boolean {
  return PRODUCER_ID.test(s);
}

/** The pid of `producer`'s message number `counter`. */
export function generatedPid(producer: string, counter: number): string {
  return `${GENERATED_PID_START}${producer}:${counter.toString(36)}`;
}
