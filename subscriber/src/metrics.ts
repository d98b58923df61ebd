/** The subscriber's own Prometheus series, on top of the shared BaseMetrics. */
import { LATENCY_BUCKETS, type BaseMetrics } from '@wsq/core';

export type Protocol = 'v1' | 'legacy';

export function subscriberMetrics(base: BaseMetrics) {
  return {
    base,
    delivered: base.counter<'protocol'>(
      'wsq_subscriber_delivered_total',
      'Messages sent to client sockets, by protocol (v1 or legacy)',
      ['protocol'],
    ),
    consumed: base.counter('wsq_subscriber_consumed_total', 'Messages received from the msgqueue'),
    replayed: base.counter('wsq_subscriber_replayed_total', 'Messages sent to clients by `since` replays'),
    subscriptions: base.gauge('wsq_subscriptions', 'Subscriptions held by open connections'),
    topics: base.gauge('wsq_subscriber_topics', 'Distinct subscription patterns'),
    latency: base.histogram(
      'wsq_delivery_latency_seconds',
      'Seconds from the publisher accepting a message to its first send on a subscriber socket',
      LATENCY_BUCKETS,
    ),
    lastSeq: base.gauge('wsq_subscriber_last_seq', 'Highest seq delivered from the msgqueue'),
    linkUp: base.gauge('wsq_subscriber_queue_link_up', '1 while the msgqueue link is up'),
  };
}

export type SubscriberMetrics = ReturnType<typeof subscriberMetrics>;
