/**
 * The messages between the main thread (runner.ts) and a load worker (load.ts). Each worker
 * owns a share of the subscriber and publisher connections of one scenario run.
 */
import type { Endpoint } from './transport.js';

export interface WorkerSetup {
  endpoint: Endpoint;
  /** Full topic names; message i goes to topicNames[i % topicNames.length]. */
  topicNames: string[];
  messages: number;
  /** All publishers of the run: publisher p sends the messages i with i % publisherCount === p. */
  publisherCount: number;
  /** This worker's subscribers, by global index; subscriber s listens on topic s % topics. */
  subscribers: number[];
  /** This worker's publishers, by global index. */
  publishers: number[];
  /** Per publisher, messages per second (0: as fast as flow control allows). */
  publisherRatePerSec: number;
  payloadBytes: number;
  publisherBufferBytes: number;
  connectConcurrency: number;
  progressIntervalMs: number;
  /** With `endpoint.acks`: after publishing, wait for the acks until none came for this long. */
  idleTimeoutMs: number;
}

export type MainToWorker = { type: 'start' } | { type: 'finish' };

export interface WorkerCounts {
  published: number;
  /** Distinct messages received, all subscribers together. */
  received: number;
  /** Subscribers whose subscription is known to be active (acked, or a probe arrived). */
  ready: number;
}

export interface WorkerResult extends WorkerCounts {
  duplicates: number;
  /** Messages a subscriber got that its topic did not match (a routing bug). */
  unexpected: number;
  /** Received per subscriber, aligned with WorkerSetup.subscribers. */
  receivedBySubscriber: number[];
  /** Connections the server closed during the run, by close code. */
  closedByServer: Record<string, number>;
  refused: number;
  /** Acks the publishers got (with `endpoint.acks`). */
  acked: number;
  lastReceiveAtMs: number;
  /** hdr-histogram-js compressed base64 of latencies in microseconds. */
  histogram: string;
  /** With `endpoint.acks`: the publishers' ack waits (µs), the same encoding. */
  ackHistogram?: string;
  /** This worker thread's event-loop utilization from the start of publishing (1: never idle). */
  busy: number;
}

export type WorkerToMain =
  | { type: 'connected'; confirmed: number }
  | ({ type: 'progress' } & WorkerCounts)
  | { type: 'published'; published: number; lastSendAtMs: number; failed: string | undefined }
  | ({ type: 'result' } & WorkerResult)
  | { type: 'failed'; message: string };

/** How many of messages 0…messages-1 land on topic k of `topics`. */
export function expectedOnTopic(messages: number, topics: number, k: number): number {
  return k < messages ? Math.floor((messages - 1 - k) / topics) + 1 : 0;
}

/** How many messages publisher p of `publishers` sends. */
export function messagesOfPublisher(messages: number, publishers: number, p: number): number {
  return expectedOnTopic(messages, publishers, p);
}
