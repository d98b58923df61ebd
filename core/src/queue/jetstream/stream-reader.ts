/**
 * One-shot reads of the stream, for replays and `seqAtTime`: a short-lived ephemeral
 * consumer (in memory, no acks) from a start sequence or time, filtered by the pattern's
 * subject, read once in order and deleted (an ordered consumer's one-shot read, sized by its
 * num_pending so no fetch waits for more).
 */
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type ConsumerInfo, type JsMsg } from '@nats-io/jetstream';
import type { QueueMessage, ReplayResult } from '../queue.js';
import type { Session } from './session.js';
import { ALL_SUBJECTS, patternToFilter, subjectToTopic } from './subjects.js';
import { TS_HEADER } from './producer.js';

const NS_PER_MS = 1_000_000;
const EPHEMERAL_TTL_NS = 30_000 * NS_PER_MS;
/** A one-shot read waits at most this long for the messages num_pending promised. */
const FETCH_EXPIRES_MS = 5000;

/** The QueueMessage of a stored message, or undefined for a subject that is not a topic of ours. */
export function toQueueMessage(m: JsMsg): QueueMessage | undefined {
  const topic = subjectToTopic(m.subject);
  if (topic === undefined) return undefined;
  const ts = Number(m.headers?.get(TS_HEADER));
  return {
    seq: m.seq,
    topic,
    data: m.string(),
    ts: Number.isFinite(ts) && ts > 0 ? ts : Math.floor(m.info.timestampNanos / NS_PER_MS),
  };
}

export interface StreamRange extends ReplayResult {
  /** The stream's last seq when the read began. */
  lastSeq: number;
}

export interface StreamReader {
  /** Messages with seq in [max(from, firstSeq), to] matching `pattern`, at most `limit`. */
  readRange(from: number, to: number, pattern: string | undefined, limit: number): Promise<StreamRange>;
  /** The seq of the first retained message stored at or after `ms`, or lastSeq + 1. */
  seqAtTime(ms: number): Promise<number>;
}

export function createStreamReader(session: Session): StreamReader {
  /** An ephemeral, in-memory, unacknowledged consumer of the stream. */
  function ephemeral(cfg: Partial<ConsumerConfig>): Promise<ConsumerInfo> {
    return session.jsm!.consumers.add(session.stream, {
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: EPHEMERAL_TTL_NS,
      ...cfg,
    });
  }

  function dispose(name: string): void {
    session.jsm?.consumers.delete(session.stream, name).catch(() => undefined);
  }

  return {
    async readRange(from, to, pattern, limit) {
      const st = (await session.streamInfo()).state;
      const lastSeq = st.last_seq;
      const firstSeq = st.messages === 0 ? st.last_seq + 1 : st.first_seq;
      const start = Math.max(from, firstSeq);
      const end = Math.min(to, st.last_seq);
      if (start > end) return { messages: [], firstSeq, more: false, next: Math.max(start, to + 1), lastSeq };
      const info = await ephemeral({
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start,
        filter_subject: pattern === undefined ? ALL_SUBJECTS : patternToFilter(pattern),
      });
      const messages: QueueMessage[] = [];
      let more = false;
      let next = to + 1;
      try {
        const want = Math.min(limit, info.num_pending);
        if (want > 0) {
          const c = await session.js!.consumers.get(session.stream, info.name);
          const it = await c.fetch({ max_messages: want, expires: FETCH_EXPIRES_MS });
          let past = false;
          for await (const m of it) {
            if (past) continue;
            if (m.seq > to) {
              past = true;
              continue;
            }
            const q = toQueueMessage(m);
            if (q) messages.push(q);
            if (messages.length >= limit && m.seq < to && m.info.pending > 0) {
              more = true;
              next = m.seq + 1;
            }
          }
        }
      } finally {
        dispose(info.name);
      }
      return { messages, firstSeq, more, next, lastSeq };
    },

    async seqAtTime(ms) {
      const info = await ephemeral({
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(ms).toISOString(),
        filter_subject: ALL_SUBJECTS,
      });
      dispose(info.name);
      // The server places a new consumer just before its first message.
      return info.delivered.stream_seq + 1;
    },
  };
}
