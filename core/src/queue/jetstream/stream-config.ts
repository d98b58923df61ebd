/**
 * The stream the JetStream home needs, from the same flags as the msgqueue's journal, and the
 * check of a stream found on the server against it. Pure: no connection, no clock.
 */
import { ALL_SUBJECTS } from './subjects.js';

export interface StreamSettings {
  /** Stream name (--stream). */
  readonly stream: string;
  readonly streamReplicas: number;
  /** 0: unlimited (as for the msgqueue). */
  readonly retainMessages: number;
  readonly retainBytes: number;
  readonly retainMs: number;
  /** The duplicate window: a Nats-Msg-Id seen within it gets the original seq. */
  readonly dedupeWindowMs: number;
}

/** The fields of a NATS StreamConfig we set and check (nanoseconds for durations). */
export interface WantedStream {
  name: string;
  subjects: string[];
  retention: 'limits';
  storage: 'file';
  discard: 'old';
  max_msgs: number;
  max_bytes: number;
  max_age: number;
  num_replicas: number;
  duplicate_window: number;
}

const NS_PER_MS = 1_000_000;

/**
 * What the stream must look like. JetStream refuses a duplicate window longer than max_age,
 * so it is cut to max_age; a window of 0 (dedupe off) becomes 1 ms, since 0 asks the server
 * for its own default of 2 minutes.
 */
export function wantedStream(s: StreamSettings): WantedStream {
  const maxAge = s.retainMs * NS_PER_MS;
  let dup = Math.max(1, s.dedupeWindowMs) * NS_PER_MS;
  if (maxAge > 0 && dup > maxAge) dup = maxAge;
  return {
    name: s.stream,
    subjects: [ALL_SUBJECTS],
    retention: 'limits',
    storage: 'file',
    discard: 'old',
    max_msgs: s.retainMessages > 0 ? s.retainMessages : -1,
    max_bytes: s.retainBytes > 0 ? s.retainBytes : -1,
    max_age: maxAge,
    num_replicas: s.streamReplicas,
    duplicate_window: dup,
  };
}

/** Which flag sets each checked field, for the error an operator reads. */
const FLAG_OF: Record<Exclude<keyof WantedStream, 'name'>, string> = {
  subjects: `the subject filter ${ALL_SUBJECTS}`,
  retention: 'limits retention',
  storage: 'file storage',
  discard: 'discard old',
  max_msgs: '--retain-messages',
  max_bytes: '--retain-bytes',
  max_age: '--retain-ms',
  num_replicas: '--stream-replicas',
  duplicate_window: '--dedupe-window-ms',
};

function show(field: keyof WantedStream, v: unknown): string {
  if ((field === 'max_age' || field === 'duplicate_window') && typeof v === 'number') return `${v / NS_PER_MS} ms`;
  return JSON.stringify(v);
}

/**
 * The first difference between the stream found and the one wanted, as a sentence naming the
 * field, or undefined when it fits. The stream may list more subjects than ours.
 */
export function streamMismatch(found: Record<string, unknown>, want: WantedStream): string | undefined {
  for (const field of Object.keys(FLAG_OF) as (keyof typeof FLAG_OF)[]) {
    const have = found[field];
    const ok =
      field === 'subjects'
        ? Array.isArray(have) && have.includes(ALL_SUBJECTS)
        : // An unset limit comes back as -1 or 0 depending on the field and server.
          have === want[field] || (want[field] === -1 && (have === 0 || have === undefined));
    if (!ok) {
      return `stream ${want.name}: ${field} is ${show(field, have)}, but ${FLAG_OF[field]} asks for ${show(field, want[field])}; change the flag or the stream (nats stream edit ${want.name})`;
    }
  }
  return undefined;
}

/** NATS stream and consumer names: no whitespace, `.`, `*`, `>`, path separators; we keep to a portable set. */
export const NATS_NAME = /^[A-Za-z0-9_-]{1,64}$/;
