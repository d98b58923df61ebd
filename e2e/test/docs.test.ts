/**
 * docs/operations.md and docs/grafana-dashboard.json stay in step with the code: every metric
 * the running services export is in the metrics table (and every row is exported, by the
 * service it names), every reason label is explained, every option is documented as its flag,
 * and every series the dashboard queries exists.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUTH_FAILURE_REASONS, CLOSE_REASONS, DROP_REASONS, createMetrics, flagName, type OptionSpec } from '@wsq/core';
import t from 'tap';
import { createTrio, ROOT, type ServiceName } from './harness.js';
import { scrape } from './prom.js';

const SERVICES: ServiceName[] = ['msgqueue', 'publisher', 'subscriber'];
const OPERATIONS = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');

/** prom-client's process and Node.js metrics (`process_*`, `nodejs_*`): documented as a group. */
async function defaultMetricNames(): Promise<Set<string>> {
  const names = async (defaults: boolean) =>
    (await createMetrics('x', { defaultMetrics: defaults }).registry.getMetricsAsJSON()).map((m) => m.name);
  const base = new Set(await names(false));
  return new Set((await names(true)).filter((n) => !base.has(n)));
}

/** The rows of the metrics table: `| \`wsq_…\` | service | labels | meaning |`. */
function documentedMetrics(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of OPERATIONS.split('\n')) {
    const m = /^\| `(wsq_[a-z0-9_]+)` \| ([a-z, ]+) \|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.trim());
  }
  return rows;
}

t.test('the metrics table lists exactly what the services export', async (t) => {
  const trio = await createTrio(t);
  const defaults = await defaultMetricNames();
  t.ok(defaults.has('process_cpu_user_seconds_total'), 'default metrics are known');
  const documented = documentedMetrics();
  t.ok(documented.size > 20, 'the table was found');
  const exportedBy = new Map<string, ServiceName[]>();
  for (const name of SERVICES) {
    const m = await scrape(trio[name], trio.tls);
    for (const family of m.types.keys()) {
      if (defaults.has(family)) continue;
      exportedBy.set(family, [...(exportedBy.get(family) ?? []), name]);
    }
  }
  t.same(
    [...exportedBy.keys()].filter((n) => !documented.has(n)),
    [],
    'every exported metric is documented',
  );
  t.same(
    [...documented.keys()].filter((n) => !exportedBy.has(n)),
    [],
    'every documented metric is exported',
  );
  for (const [name, services] of exportedBy) {
    const want = services.length === SERVICES.length ? 'all' : services.join(', ');
    t.equal(documented.get(name), want, `${name}: service column`);
  }
  t.notOk(
    [...exportedBy.keys()].some((n) => !n.startsWith('wsq_')),
    'every metric has the wsq_ prefix',
  );
  t.ok(OPERATIONS.includes('`process_*`'), 'the default process metrics are mentioned');
  t.ok(OPERATIONS.includes('`nodejs_*`'), 'the default Node.js metrics are mentioned');
});

/** The text under a heading, up to the next heading of any level. */
function section(heading: string): string {
  const start = OPERATIONS.indexOf(`\n${heading}\n`);
  if (start < 0) return '';
  const rest = OPERATIONS.slice(start + heading.length + 2);
  const end = rest.search(/^#{1,4} /m);
  return end < 0 ? rest : rest.slice(0, end);
}

t.test('every reason label is explained in its table', async (t) => {
  const tables = {
    '#### Close reasons': CLOSE_REASONS,
    '#### Drop reasons': DROP_REASONS,
    '#### Auth failure reasons': AUTH_FAILURE_REASONS,
  };
  for (const [heading, reasons] of Object.entries(tables)) {
    const text = section(heading);
    const rows = [...text.matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((m) => m[1]);
    t.same(rows.sort(), Object.keys(reasons).sort(), `${heading}: one row per reason`);
  }
});

t.test('every option of every service is documented as its flag', async (t) => {
  for (const name of [...SERVICES, 'server']) {
    const { OPTIONS } = (await import(join(ROOT, name, 'dist/src/index.js'))) as { OPTIONS: readonly OptionSpec[] };
    const missing = OPTIONS.map((o) => flagName(o.key)).filter((flag) => !OPERATIONS.includes(`\`${flag}\``));
    t.same(missing, [], `${name} options in docs/operations.md`);
  }
});

t.test('probes and scrape configuration are documented', async (t) => {
  for (const needle of ['livenessProbe:', 'readinessProbe:', 'path: /healthz', 'path: /readyz', 'scheme: HTTPS']) {
    t.ok(OPERATIONS.includes(needle), needle);
  }
  for (const needle of ['scrape_configs:', 'scheme: https', 'tls_config:', 'ca_file:', 'basic_auth:']) {
    t.ok(OPERATIONS.includes(needle), needle);
  }
});

interface Panel {
  title?: string;
  type?: string;
  targets?: { expr?: string; legendFormat?: string }[];
  panels?: Panel[];
}

t.test('the Grafana dashboard parses and queries documented metrics only', async (t) => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as {
    title: string;
    panels: Panel[];
  };
  t.type(dashboard.title, 'string');
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr ?? ''));
  t.ok(exprs.length >= 10, 'the dashboard has queries');
  const documented = documentedMetrics();
  const defaults = await defaultMetricNames();
  const unknown = new Set<string>();
  for (const expr of exprs) {
    const series = expr.replace(/\b(by|without)\s*\([^)]*\)/g, ''); // label names are not series
    for (const [name] of series.matchAll(/\b(?:wsq|process|nodejs)_[a-z0-9_]+/g)) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      if (!documented.has(name) && !documented.has(family) && !defaults.has(name) && !defaults.has(family))
        unknown.add(name);
    }
  }
  t.same([...unknown], [], 'every queried series is in the docs table');
  // Labels a ServiceMonitor sets on every target would shadow ours (renamed exported_*).
  const legends = panels.flatMap((p) => (p.targets ?? []).map((x) => x.legendFormat ?? ''));
  t.same(
    [...exprs, ...legends].filter((x) => /\b(?<!wsq_)(service|endpoint)\b/.test(x)),
    [],
    'no query groups or labels by service or endpoint',
  );
  const queried = exprs.join('\n');
  for (const needle of [
    'rate(wsq_publisher_received_total',
    'rate(wsq_publisher_published_total',
    'rate(wsq_queue_appended_total',
    'rate(wsq_subscriber_delivered_total',
    'histogram_quantile(',
    'wsq_publish_ack_seconds_bucket',
    'wsq_delivery_latency_seconds_bucket',
    'wsq_connections_open',
    'wsq_subscriptions',
    'wsq_queue_consumer_lag_messages',
    'wsq_publisher_outbox_messages',
    'wsq_dropped_messages_total',
    'wsq_closes_total',
    'wsq_auth_failures_total',
    'wsq_ready',
  ]) {
    t.ok(queried.includes(needle), `a panel queries ${needle}`);
  }
});
