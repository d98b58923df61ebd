/** The publisher's own metrics, on top of the ones every service has (docs/operations.md lists them). */
import { LATENCY_BUCKETS, type BaseMetrics } from '@wsq/core';

/** How a message came in: a wsq.v1 or legacy WebSocket frame, or `POST /v1/messages`. */
export type PublishProtocol = 'v1' | 'legacy' | 'http';

/** `outboxDepth` is read when /metrics is scraped, not kept up to date per message. */
export function publisherMetrics(base: BaseMetrics, outboxDepth: () => number = () => 0) {
  return {
    ...base,
    /** Frames received from clients, by protocol (valid or not). */
    received: base.tallyBy('wsq_publisher_received_total', 'Frames received from publishing clients', 'protocol'),
    /** Messages the msgqueue journaled. */
    published: base.tally('wsq_publisher_published_total', 'Messages journaled by the msgqueue'),
    /** Messages accepted but not yet journaled by the msgqueue. */
    outbox: base.gauge('wsq_publisher_outbox_messages', 'Messages waiting for the msgqueue to journal them', [], (g) =>
      g.set(outboxDepth()),
    ),
    /** 1 while the msgqueue link is up (readiness follows it). */
    linkUp: base.gauge('wsq_publisher_queue_link_up', '1 while the msgqueue link is up'),
    /** Publishing sockets paused because the outbox passed its high-water mark (link up). */
    backpressurePauses: base.counter(
      'wsq_publisher_backpressure_pauses_total',
      'Publishing sockets paused because the msgqueue outbox passed its high-water mark',
    ),
    /** Time from accepting a message to the msgqueue journaling it. */
    ackSeconds: base.histogram(
      'wsq_publish_ack_seconds',
      'Seconds from accepting a message to the msgqueue journaling it',
      LATENCY_BUCKETS,
    ),
  };
}

export type PublisherMetrics = ReturnType<typeof publisherMetrics>;
