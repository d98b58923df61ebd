/**
 * Prometheus metrics (prom-client), one registry per service instance so tests can run
 * several services in one process. Names carry the `wsq_` prefix; docs/operations.md lists them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface BaseMetrics {
  registry: Registry;
  connectionsOpen: Gauge<'endpoint'>;
  connectionsTotal: Counter<'endpoint'>;
  authFailures: Counter<'reason'>;
  closes: Counter<'reason'>;
  drops: Counter<'reason'>;
  framesInvalid: Counter<'endpoint' | 'code'>;
  counter<L extends string = never>(name: string, help: string, labels?: readonly L[]): Counter<L>;
  gauge<L extends string = never>(name: string, help: string, labels?: readonly L[]): Gauge<L>;
  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labels?: readonly L[],
  ): Histogram<L>;
}

/** Latency buckets in seconds, from 100 µs to 10 s. */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export function createMetrics(service: string, opts: { defaultMetrics?: boolean } = {}): BaseMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'wsq_' });
  const counter = <L extends string = never>(name: string, help: string, labels: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames: labels, registers: [registry] });
  const gauge = <L extends string = never>(name: string, help: string, labels: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames: labels, registers: [registry] });
  const histogram = <L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labels: readonly L[] = [],
  ) => new Histogram<L>({ name, help, buckets, labelNames: labels, registers: [registry] });
  return {
    registry,
    counter,
    gauge,
    histogram,
    connectionsOpen: gauge('wsq_connections_open', 'Open WebSocket connections', ['endpoint']),
    connectionsTotal: counter('wsq_connections_total', 'WebSocket connections accepted', ['endpoint']),
    authFailures: counter('wsq_auth_failures_total', 'Rejected upgrade and HTTP requests', ['reason']),
    closes: counter('wsq_closes_total', 'Connections closed by the server, by reason', ['reason']),
    drops: counter('wsq_dropped_messages_total', 'Messages dropped, by reason', ['reason']),
    framesInvalid: counter('wsq_invalid_frames_total', 'Frames refused, by endpoint and error code', [
      'endpoint',
      'code',
    ]),
  };
}
