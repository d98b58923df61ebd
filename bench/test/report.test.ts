import t from 'tap';
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { groupOf, summarizeProfile, formatProfileSummary, type CpuProfile } from '../src/profile.js';
import { createProgress, progressLine } from '../src/progress.js';
import {
  formatClientCheck,
  formatCpu,
  formatMarkdownTable,
  formatMs,
  formatNotes,
  formatRatios,
  formatTable,
  labeller,
  median,
  ratios,
  toJson,
  unacked,
} from '../src/report.js';
import type { RunResult } from '../src/runner.js';
import { diffCounters, parseCounters } from '../src/server-counters.js';
import { percentileCurve, summarize } from '../src/stats.js';
import { escapeXml, renderLatencyChart } from '../src/svg.js';
import { formatWarmup } from '../src/warmup.js';

/** A histogram of `n` latencies spread evenly from lo to hi microseconds. */
function histogram(lo: number, hi: number, n = 1000): string {
  const h = build({ numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < n; i++) h.recordValue(Math.round(lo + ((hi - lo) * i) / (n - 1)));
  return encodeIntoCompressedBase64(h);
}

function result(system: RunResult['system'], over: Partial<RunResult> = {}): RunResult {
  const h = build();
  h.recordValue(500);
  h.recordValue(2000);
  return {
    scenario: 'pipe',
    system,
    plan: { name: 'pipe', messages: 1000, subscribers: 1, publishers: 1, topics: 1, ratePerSec: 0 },
    published: 1000,
    publishedPerSec: 50_000,
    expectedDeliveries: 1000,
    deliveries: 1000,
    deliveriesPerSec: 40_000,
    lost: 0,
    duplicates: 0,
    unexpected: 0,
    refused: 0,
    closedByServer: {},
    publishFailed: undefined,
    durationMs: 25,
    latency: summarize(h),
    histogram: encodeIntoCompressedBase64(h),
    ...over,
  };
}

t.test('latency summary in ms from a µs histogram', async (t) => {
  const h = build();
  for (let v = 1; v <= 1000; v++) h.recordValue(v * 10); // 10 µs … 10 ms
  const s = summarize(h);
  t.equal(s.count, 1000);
  t.ok(Math.abs(s.p50 - 5) < 0.01, `p50 ${s.p50}`);
  t.ok(Math.abs(s.p99 - 9.9) < 0.01, `p99 ${s.p99}`);
  t.ok(Math.abs(s.max - 10) < 0.01, `max ${s.max}`);
  t.same(summarize(build()), { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
});

t.test('table, markdown and notes', async (t) => {
  const rows = [
    result('wsq-legacy', {
      lost: 3,
      duplicates: 1,
      closedByServer: { '1013': 2 },
      serverCounters: { 'wsq_dropped_messages_total{reason="outbox_full"}': 3 },
    }),
    result('nats', { deliveriesPerSec: 80_000 }),
  ];
  const table = formatTable(rows);
  const lines = table.trimEnd().split('\n');
  t.equal(lines.length, 4, 'header, rule, two rows');
  t.match(
    lines[0],
    /^scenario\s+system\s+published\/s\s+deliveries\/s\s+p50 ms\s+p90 ms\s+p99 ms\s+p99\.9 ms\s+max ms\s+lost$/,
  );
  t.match(lines[2], /^pipe\s+wsq legacy\s+50,000\s+40,000\s+0\.500\s+.*3 \(\+1 dup\)$/);
  t.match(lines[3], /NATS\s+50,000\s+80,000/);
  t.equal(new Set(lines.map((l) => l.length)).size, 1, 'columns aligned');
  const md = formatMarkdownTable(rows);
  t.match(md, /^\| scenario \| system \|/);
  t.match(md, /\|---\|---\|---:\|/);
  const notes = formatNotes(rows);
  t.match(notes, /server closed 2× 1013/);
  t.match(notes, /outbox_full.*\+3/);
  t.equal(formatNotes([result('nats')]), '', 'no notes for a clean run');
  t.equal(formatMs(0.1234), '0.123');
  t.equal(formatMs(12.34), '12.3');
  t.equal(formatMs(1234.5), '1235');
});

t.test('--acks: acknowledged counts under the table; the unanswered ones are named and counted', async (t) => {
  const all = result('wsq-v1', { acked: 1000 });
  const short = result('wsq-v1', { acked: 990, refused: 4 });
  t.equal(formatNotes([all]), 'note: pipe wsq v1: 1000 of 1000 acknowledged\n');
  t.match(formatNotes([short]), /990 of 1000 acknowledged; 6 neither acknowledged nor refused/);
  t.same([unacked(all), unacked(short), unacked(result('wsq-v1'))], [0, 6, 0], 'no --acks: nothing is missing');
});

t.test('ratio wsq ÷ NATS per scenario', async (t) => {
  const wsq = result('wsq-legacy', { deliveriesPerSec: 30_000 });
  const nats = result('nats', { deliveriesPerSec: 60_000 });
  const [r] = ratios([wsq, nats]);
  t.equal(r.deliveriesPerSec, 0.5);
  t.equal(r.p50, 1);
  t.equal(r.beats, false);
  t.match(formatRatios([r]), /pipe\s+wsq legacy ÷ NATS: deliveries\/s 0\.50×, p50 1\.00×, p99 1\.00× — behind NATS/);
  const [fast] = ratios([result('wsq-v1', { deliveriesPerSec: 90_000 }), nats]);
  t.equal(fast.beats, true);
  t.equal(ratios([result('wsq-v1', { deliveriesPerSec: 90_000, lost: 1 }), nats])[0].beats, false, 'loss never beats');
  t.same(ratios([wsq]), [], 'no reference, no ratio');
  t.equal(formatRatios([]), '');
  const json = JSON.parse(
    toJson({ startedAt: 'x', node: 'v20', cpus: 2, workers: 2, payloadBytes: 64, target: 'self' }, [wsq, nats]),
  ) as { results: Record<string, unknown>[]; ratios: unknown[] };
  t.equal(json.results.length, 2);
  t.notOk('histogram' in json.results[0], 'histograms stay out of the JSON');
  t.equal(json.ratios.length, 1);
});

t.test('SVG latency chart', async (t) => {
  const svg = renderLatencyChart({
    title: 'pipe <latency> & more',
    subtitle: '100 messages',
    series: [
      { label: 'wsq', points: percentileCurve(histogram(200, 5000)) },
      { label: 'NATS', points: percentileCurve(histogram(100, 900)) },
    ],
  });
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(svg, /<\/svg>\n$/);
  t.equal(svg.match(/<path /g)?.length, 2, 'one curve per series');
  t.match(svg, /pipe &#60;latency&#62; &#38; more/, 'text escaped');
  for (const label of ['0%', '90%', '99%', '99.9%', '99.99%']) t.match(svg, `>${label}</text>`);
  t.match(svg, />0.1 ms<\/text>/);
  t.match(svg, />10 ms<\/text>/);
  t.notMatch(svg, /NaN|Infinity|undefined/);
  const tags = svg.match(/<(\w+)[\s>]/g)!.length;
  t.equal(tags, svg.match(/(\/>|<\/\w+>)/g)!.length, 'every element closed');
  const empty = renderLatencyChart({ title: 'x', series: [{ label: 'wsq', points: [] }] });
  t.match(empty, /no data/);
  t.notMatch(empty, /NaN|Infinity/);
  t.equal(escapeXml(`a"b'c`), 'a&#34;b&#39;c');
  const curve = percentileCurve(histogram(1000, 2000));
  t.equal(curve[0].percentile, 0);
  t.ok(Math.abs(curve[curve.length - 1].percentile - 99.99) < 1e-9);
  t.ok(
    curve.every((p, i) => i === 0 || p.ms >= curve[i - 1].ms),
    'non-decreasing',
  );
});

t.test('progress: redrawn line on a TTY, periodic lines otherwise', async (t) => {
  const p = {
    phase: 'publishing' as const,
    published: 50,
    received: 25,
    messages: 100,
    expectedDeliveries: 100,
    elapsedMs: 1500,
  };
  t.match(progressLine('pipe wsq', p, 8), /^pipe wsq ███░░░░░ publishing published 50\/100 delivered 25\/100 1\.5s$/);
  let now = 0;
  const tty: string[] = [];
  const bar = createProgress({ write: (s: string) => tty.push(s), isTTY: true, columns: 40 }, 'x', () => now);
  bar.update(p);
  now += 10;
  bar.update(p);
  now += 1000;
  bar.update(p);
  bar.done();
  t.equal(tty.length, 3, 'throttled redraws plus the clear');
  t.ok(
    tty.every((s) => s.startsWith('\r\x1b[2K')),
    'redrawn in place',
  );
  t.ok(tty[0].length <= 40 + 4, 'cut to the terminal width');
  const plain: string[] = [];
  const log = createProgress({ write: (s: string) => plain.push(s) }, 'x', () => now);
  log.update(p);
  now += 100;
  log.update(p);
  log.done();
  t.equal(plain.length, 1, 'plain output is sparse');
  t.match(plain[0], /\n$/);
});

t.test('CPU profile summary: self time by function and by place', async (t) => {
  const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 1_000_000, // 1 s
    nodes: [
      { id: 1, callFrame: frame('(root)'), hitCount: 0 },
      { id: 2, callFrame: frame('(idle)'), hitCount: 500 },
      { id: 3, callFrame: frame('send', 'file:///x/node_modules/ws/lib/sender.js', 9), hitCount: 200 },
      { id: 4, callFrame: frame('fanOut', 'file:///x/subscriber/dist/src/fanout.js', 41), hitCount: 250 },
      { id: 5, callFrame: frame('(garbage collector)'), hitCount: 50 },
      { id: 6, callFrame: frame('fanOut', 'file:///x/subscriber/dist/src/fanout.js', 41), hitCount: 0 },
    ],
  };
  const s = summarizeProfile(profile, 2);
  t.equal(s.totalMs, 1000);
  t.equal(s.busyMs, 500);
  t.same(
    s.functions.map((f) => [f.name, Math.round(f.selfMs), Math.round(f.percent)]),
    [
      ['fanOut subscriber/dist/src/fanout.js:42', 250, 50],
      ['send node_modules/ws/lib/sender.js:10', 200, 40],
    ],
  );
  t.same(
    s.groups.map((g) => g.name),
    ['wsq subscriber', 'ws', '(garbage collector)'],
  );
  t.match(formatProfileSummary('subscriber', s), /subscriber: 1\.0 s profiled, 0\.5 s busy/);
  t.equal(groupOf('x', 'node:internal/streams'), 'node internals');
  t.equal(groupOf('x', 'file:///r/node_modules/@wsq/core/dist/src/a.js'), 'wsq core');
  t.equal(groupOf('x', 'file:///r/core/dist/src/a.js'), 'wsq core');
});

t.test('server counters from /metrics text', async (t) => {
  const text = [
    '# HELP wsq_dropped_messages_total Messages dropped, by reason',
    '# TYPE wsq_dropped_messages_total counter',
    'wsq_dropped_messages_total{reason="outbox_full",service="publisher"} 12',
    'wsq_dropped_messages_total{reason="rate_limited",service="publisher"} 0',
    'wsq_closes_total{reason="slow_consumer",service="subscriber"} 2',
    'wsq_publisher_received_total{protocol="legacy"} 99',
  ].join('\n');
  const c = parseCounters(text);
  t.same(c, {
    'wsq_dropped_messages_total{reason="outbox_full",service="publisher"}': 12,
    'wsq_dropped_messages_total{reason="rate_limited",service="publisher"}': 0,
    'wsq_closes_total{reason="slow_consumer",service="subscriber"}': 2,
  });
  t.same(diffCounters({ a: 1, b: 2 }, { a: 1, b: 5, c: 1 }), { b: 3, c: 1 });
});

t.test('--repeat: every run is a row; the ratios compare the medians of the runs', async (t) => {
  const lat = (p50: number, p99: number) => ({ ...summarize(build()), count: 1, p50, p99 });
  const runs = [
    result('wsq-legacy', { round: 1, deliveriesPerSec: 10, latency: lat(1, 9) }),
    result('nats', { round: 1, deliveriesPerSec: 100, latency: lat(1, 1) }),
    result('wsq-legacy', { round: 2, deliveriesPerSec: 50, latency: lat(2, 2) }),
    result('nats', { round: 2, deliveriesPerSec: 40, latency: lat(3, 3) }),
    result('wsq-legacy', { round: 3, deliveriesPerSec: 60, latency: lat(3, 3), lost: 1 }),
    result('nats', { round: 3, deliveriesPerSec: 50, latency: lat(4, 4) }),
  ];
  const [r] = ratios(runs);
  t.equal(r!.deliveriesPerSec, 50 / 50, 'median 50 ÷ median 50');
  t.equal(r!.p50, 2 / 3);
  t.equal(r!.p99, 3 / 3);
  t.equal(r!.beats, false, 'a loss in any run never beats');
  t.equal(ratios(runs.map((x) => ({ ...x, lost: 0 })))[0]!.beats, true);
  t.match(formatTable(runs), /pipe #2\s+wsq legacy/);
  t.match(formatRatios(ratios(runs), true), /medians of the runs/);
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 2, 3]), 2.5);
});

t.test('two references: each wsq system against each, labelled', async (t) => {
  const wsq = result('wsq-v1', { deliveriesPerSec: 60_000, acked: 1000 });
  const nats = result('nats', { deliveriesPerSec: 120_000 });
  const js = result('jetstream', { deliveriesPerSec: 60_000, acked: 1000 });
  const list = ratios([wsq, nats, js]);
  t.same(
    list.map((r) => [r.system, r.reference, r.deliveriesPerSec]),
    [
      ['wsq-v1', 'nats', 0.5],
      ['wsq-v1', 'jetstream', 1],
    ],
  );
  const text = formatRatios(list);
  t.match(text, /^wsq ÷ NATS, JetStream /);
  const ack = (p99: number): NonNullable<RunResult['ackLatency']> => ({ ...wsq.latency, p50: 1, p99 });
  const acked = ratios([
    { ...wsq, ackLatency: ack(4) },
    { ...js, ackLatency: ack(2) },
  ]);
  t.match(acked, [{ reference: 'jetstream', ackP99: 2, beats: false }], 'a slower ack is behind, whatever the rate');
  t.match(formatRatios(acked), /p99 [0-9.]+×, ack p99 2\.00× — behind JetStream/);
  t.match(
    ratios([
      { ...wsq, ackLatency: ack(2) },
      { ...js, ackLatency: ack(2) },
    ]),
    [{ ackP99: 1, beats: true }],
  );
  t.match(
    formatNotes([{ ...wsq, ackLatency: { ...ack(3.5), count: 1000 } }]),
    'note: pipe wsq v1: 1000 of 1000 acknowledged, ack p50 1.00 ms, p99 3.50 ms\n',
  );
  t.match(text, /pipe +wsq v1 ÷ NATS: deliveries\/s 0\.50×.*behind NATS/);
  t.match(text, /pipe +wsq v1 ÷ JetStream: deliveries\/s 1\.00×.*matches or beats JetStream/);
});

t.test('CPU per delivery: the system’s processes summed, the clients apart, with how busy they were', async (t) => {
  const wsq = result('wsq-v1', {
    cpuSeconds: { bench: 0.05, msgqueue: 0.1, publisher: 0.2, subscriber: 0.3 },
    clientBusy: 0.42,
  });
  const nats = result('nats', { cpuSeconds: { bench: 0.04, 'nats-server': 0.02 }, round: 2 });
  const text = formatCpu([wsq, nats]);
  t.match(
    text,
    'pipe     wsq v1: msgqueue 0.10 + publisher 0.20 + subscriber 0.30 = 0.60 s, 600.0 µs per delivery; clients (bench) 0.05 s, 50.0 µs per delivery, busiest client worker 42 % busy',
  );
  t.match(
    text,
    'pipe #2  NATS: nats-server 0.02 = 0.02 s, 20.0 µs per delivery; clients (bench) 0.04 s, 40.0 µs per delivery',
  );
  t.equal(formatCpu([result('nats')]), '', 'nothing without CPU figures');
  t.match(
    formatCpu([result('nats', { cpuSeconds: { bench: 1 }, deliveries: 0 })]),
    'servers – = 0.00 s, – per delivery',
  );
});

t.test('--client-check: a reference with twice the workers against the median of its runs', async (t) => {
  const runs = [40_000, 50_000, 60_000].map((d, i) => result('nats', { deliveriesPerSec: d, round: i + 1 }));
  const same = formatClientCheck(runs, [result('nats', { deliveriesPerSec: 52_000 })], 2);
  t.match(
    same,
    'pipe     NATS: 52,000 deliveries/s with 4 workers against 50,000 with 2 (+4 %), not higher: the clients did not limit it',
  );
  const higher = formatClientCheck(runs, [result('nats', { deliveriesPerSec: 80_000 })], 2);
  t.match(higher, '(+60 %), higher: the clients limited this reference');
  t.equal(formatClientCheck(runs, [], 2), '');
  const busy = formatClientCheck(runs, [result('nats', { deliveriesPerSec: 50_000, clientBusy: 0.97 })], 2);
  t.match(busy, "not higher, but a client worker was 97 % busy: one connection's thread may cap it");
  t.match(
    formatNotes([result('nats', { clientBusy: 0.95 })]),
    'note: pipe NATS: a client worker was 95 % busy; the clients may have limited this run',
  );
  t.equal(formatNotes([result('nats', { clientBusy: 0.5 })]), '', 'no note for a client with time to spare');
  const json = JSON.parse(
    toJson({ startedAt: '', node: '', cpus: 2, workers: 2, payloadBytes: 64, target: 'self' }, runs, [], [runs[0]!]),
  ) as {
    clientChecks: unknown[];
  };
  t.equal(json.clientChecks.length, 1, 'the checks in JSON, apart from the results');
});

t.test('several deployments: each wsq system labelled with its own, in every table and ratio', async (t) => {
  const cpu = (more: Record<string, number>): Record<string, number> => ({ bench: 0.1, ...more });
  const trio = result('wsq-v1', {
    deployment: 'trio-msgqueue',
    cpuSeconds: cpu({ msgqueue: 0.1, publisher: 0.1, subscriber: 0.1 }),
    closedByServer: { '1008': 2 },
  });
  const server = result('wsq-v1', {
    deployment: 'server',
    deliveriesPerSec: 80_000,
    cpuSeconds: cpu({ 'wsq-server': 0.2 }),
  });
  const r1 = result('wsq-v1', {
    deployment: 'trio-jetstream',
    cpuSeconds: cpu({ publisher: 0.1, subscriber: 0.1, 'nats-server': 0.1 }),
  });
  const r3 = result('wsq-v1', {
    deployment: 'trio-jetstream-r3',
    deliveriesPerSec: 20_000,
    cpuSeconds: cpu({
      publisher: 0.1,
      subscriber: 0.1,
      'nats-server n1': 0.1,
      'nats-server n2': 0.05,
      'nats-server n3': 0.05,
    }),
  });
  const legacy = result('wsq-legacy', { deployment: 'trio-jetstream-r3' });
  const nats = result('nats', { deliveriesPerSec: 40_000, cpuSeconds: cpu({ 'nats-server': 0.01 }) });
  const all = [trio, server, r1, r3, legacy, nats];
  const labels = labeller(all);
  t.same(all.map(labels), [
    'wsq v1 (trio, msgqueue)',
    'wsq v1 (wsq-server)',
    'wsq v1 (trio, JetStream R1)',
    'wsq v1 (trio, JetStream R3)',
    'wsq legacy (trio, JetStream R3)',
    'NATS',
  ]);
  t.same([trio, nats].map(labeller([trio, nats])), ['wsq v1', 'NATS'], 'one deployment: the labels of old');
  t.same([trio].map(labeller([trio, { ...trio }])), ['wsq v1'], 'the same deployment twice is one');
  const table = formatTable(all);
  for (const label of all.map(labels)) {
    t.match(table, new RegExp(`^pipe +${label.replace(/[()]/g, '\\$&')} +[0-9,]+ `, 'm'), `a row for ${label}`);
  }
  t.match(formatMarkdownTable(all), '| pipe | wsq v1 (trio, JetStream R3) |');
  const list = ratios(all);
  t.same(
    list.map((r) => [r.deployment, r.system, r.reference, r.deliveriesPerSec]),
    [
      ['trio-msgqueue', 'wsq-v1', 'nats', 1],
      ['server', 'wsq-v1', 'nats', 2],
      ['trio-jetstream', 'wsq-v1', 'nats', 1],
      ['trio-jetstream-r3', 'wsq-v1', 'nats', 0.5],
      ['trio-jetstream-r3', 'wsq-legacy', 'nats', 1],
    ],
    'each deployment × protocol against each reference, never pooled',
  );
  const text = formatRatios(list);
  t.match(text, /^pipe +wsq v1 \(wsq-server\) ÷ NATS: deliveries\/s 2\.00×/m);
  t.match(text, /^pipe +wsq v1 \(trio, JetStream R3\) ÷ NATS: deliveries\/s 0\.50×.*behind NATS$/m);
  const cpuText = formatCpu(all);
  t.match(
    cpuText,
    'pipe     wsq v1 (trio, JetStream R3): publisher 0.10 + subscriber 0.10 + nats-server n1 0.10 + nats-server n2 0.05 + nats-server n3 0.05 = 0.40 s',
  );
  t.match(cpuText, 'pipe     wsq v1 (wsq-server): wsq-server 0.20 = 0.20 s');
  t.match(cpuText, 'pipe     NATS: nats-server 0.01 = 0.01 s');
  t.match(formatNotes(all), 'note: pipe wsq v1 (trio, msgqueue): server closed 2× 1008');
  const json = JSON.parse(
    toJson({ startedAt: '', node: '', cpus: 2, workers: 2, payloadBytes: 64, target: 'self' }, all),
  ) as {
    results: { system: string; deployment?: string }[];
    ratios: { deployment?: string }[];
  };
  t.same(
    json.results.map((r) => r.deployment),
    ['trio-msgqueue', 'server', 'trio-jetstream', 'trio-jetstream-r3', 'trio-jetstream-r3', undefined],
    'JSON: the deployment on each wsq result',
  );
  t.equal(json.ratios[1]!.deployment, 'server');
  t.match(
    formatWarmup({ ...legacy, messages: 10 }, labels(legacy)),
    /^warm-up pipe wsq legacy \(trio, JetStream R3\): 10 messages/,
  );
});
