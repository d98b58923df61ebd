/**
 * Issue "Operable", seen from outside: the counters, gauges and histograms of the real trio
 * move with the traffic that goes through it; refusals are counted under the reasons
 * docs/operations.md names; --metrics-auth guards /metrics; every log line is a JSON object
 * an operator can filter, with no credentials in it.
 */
import { AUTH_FAILURE_REASONS, CLOSE_REASONS, DROP_REASONS, wsqVersion } from '@wsq/core';
import { httpsRequest, upgradeStatus } from '@wsq/core/testing';
import t from 'tap';
import { connectClient, nextWhere, type Client } from './clients.js';
import { createTrio, USERS, type ServiceName } from './harness.js';
import { nextLog, scrape, type Scrape } from './prom.js';

const N = 50;
const MiB = 1024 * 1024;
const SERVICES: ServiceName[] = ['msgqueue', 'publisher', 'subscriber'];
const ALICE = { user: 'alice', password: USERS.alice.password };
const VERSION = wsqVersion();

t.test('metrics, refusals and logs of the real trio', async (t) => {
  const trio = await createTrio(t, {
    // /metrics of the msgqueue needs credentials; the others are open.
    msgqueue: ['--metrics-auth'],
    // Large messages fill the kernel's socket buffers quickly for the slow-consumer case.
    publisher: ['--max-payload-bytes', String(2 * MiB), '--publish-rate-per-sec', '1', '--publish-burst', '100'],
    subscriber: ['--max-buffered-bytes', '65536'],
  });
  const metricsOf = (name: ServiceName): Promise<Scrape> =>
    scrape(trio[name], trio.tls, name === 'msgqueue' ? ALICE : undefined);
  const all = async (): Promise<Record<ServiceName, Scrape>> => {
    const [msgqueue, publisher, subscriber] = await Promise.all(SERVICES.map(metricsOf));
    return { msgqueue: msgqueue!, publisher: publisher!, subscriber: subscriber! };
  };
  let ticket = 'no ticket issued yet';
  const open = async (url: string, o: Parameters<typeof connectClient>[2] = { v1: true }): Promise<Client> => {
    const c = await connectClient(url, trio.tls, o);
    t.teardown(() => c.ws.terminate());
    return c;
  };

  await t.test('counters, histograms, gauges and lag move with N messages', async (t) => {
    const sub = await open(trio.subscribeUrl());
    sub.ws.send(JSON.stringify({ op: 'sub', topic: 'metrics.>', id: 's' }));
    await nextWhere(sub.reader, (f) => f.op === 'subscribed');
    const pub = await open(trio.publishUrl());
    const before = await all();

    for (let i = 0; i < N; i++) pub.ws.send(JSON.stringify({ op: 'pub', topic: 'metrics.m', data: i, id: `m${i}` }));
    for (let acks = 0; acks < N; acks++) await nextWhere(pub.reader, (f) => f.op === 'ack');
    for (let got = 0; got < N; got++) await nextWhere(sub.reader, (f) => f.op === 'msg');
    const after = await all();
    const moved = (name: ServiceName, metric: string, labels?: Record<string, string>): number =>
      after[name].sum(metric, labels) - before[name].sum(metric, labels);

    t.equal(moved('publisher', 'wsq_publisher_received_total', { protocol: 'v1' }), N, 'received');
    t.equal(moved('publisher', 'wsq_publisher_published_total'), N, 'published');
    t.equal(moved('publisher', 'wsq_publish_ack_seconds_count'), N, 'publish-to-ack observations');
    t.ok(moved('publisher', 'wsq_publish_ack_seconds_sum') > 0, 'publish-to-ack seconds');
    t.equal(moved('msgqueue', 'wsq_queue_appended_total'), N, 'appended');
    t.equal(moved('msgqueue', 'wsq_queue_last_seq'), N, 'the log head moved by N');
    t.equal(moved('subscriber', 'wsq_subscriber_consumed_total'), N, 'consumed from the msgqueue');
    t.equal(moved('subscriber', 'wsq_subscriber_delivered_total', { protocol: 'v1' }), N, 'delivered');
    t.equal(moved('subscriber', 'wsq_delivery_latency_seconds_count'), N, 'end-to-end latency observations');
    const le10s = after.subscriber.sum('wsq_delivery_latency_seconds_bucket', { le: '10' });
    t.equal(le10s - before.subscriber.sum('wsq_delivery_latency_seconds_bucket', { le: '10' }), N, 'all under 10 s');
    t.equal(after.msgqueue.sum('wsq_queue_log_messages'), after.msgqueue.sum('wsq_queue_last_seq'), 'log size');

    t.equal(after.publisher.sum('wsq_connections_open', { path: '/publish' }), 1);
    t.equal(after.subscriber.sum('wsq_connections_open', { path: '/subscribe' }), 1);
    t.equal(after.msgqueue.sum('wsq_connections_open', { path: '/pushmsg' }), 1, 'the publisher link');
    t.equal(after.msgqueue.sum('wsq_connections_open', { path: '/popmsg' }), 1, 'the subscriber link');
    t.equal(after.subscriber.sum('wsq_subscriptions'), 1);
    t.equal(after.subscriber.sum('wsq_subscriber_topics'), 1);
    t.equal(after.publisher.sum('wsq_publisher_outbox_messages'), 0, 'outbox empty once everything is acked');
    for (const name of SERVICES) t.equal(after[name].sum('wsq_ready'), 1, `${name} ready`);
    t.equal(after.publisher.sum('wsq_publisher_queue_link_up'), 1);
    t.equal(after.subscriber.sum('wsq_subscriber_queue_link_up'), 1);
    for (const name of SERVICES) {
      const m = after[name];
      t.ok(m.sum('process_resident_memory_bytes') > 0, `${name}: process metrics by their conventional names`);
      t.ok(m.types.has('process_cpu_seconds_total'), `${name}: process_cpu_seconds_total`);
      t.ok(m.types.has('nodejs_eventloop_lag_seconds'), `${name}: Node.js runtime metrics`);
      t.same(
        [...m.types.keys()].filter((n) => /^wsq_(process|nodejs)_/.test(n)),
        [],
        `${name}: no wsq_ prefix on default metrics`,
      );
      const build = m.samples.find((x) => x.name === 'wsq_build_info');
      t.match(build, { value: 1, labels: { version: VERSION, node: process.version, wsq_service: name } });
    }
    t.ok(moved('msgqueue', 'wsq_queue_log_bytes') > 0, 'the journal bytes moved with the appends');
    // The subscriber acknowledges after the hand-over, gathered over a few ms: no event tells
    // the test when the msgqueue moved the cursor, so read the lag until it is 0 (a few
    // scrapes). Only then have the acks (what the msgqueue receives on /popmsg) arrived.
    const lag = (s: Scrape) => s.sum('wsq_queue_consumer_lag_messages', { consumer: 'e2e-subscriber' });
    let last = after.msgqueue;
    for (let i = 0; i < 200 && lag(last) !== 0; i++) last = await metricsOf('msgqueue');
    t.equal(lag(last), 0, 'consumer lag back to 0');

    for (const [name, path] of [
      ['publisher', '/publish'],
      ['subscriber', '/subscribe'],
      ['msgqueue', '/pushmsg'],
      ['msgqueue', '/popmsg'],
    ] as const) {
      // The subscribing client only read in between (its sub frame went before the first scrape).
      const received =
        path === '/subscribe'
          ? after[name].sum('wsq_received_bytes_total', { path })
          : path === '/popmsg'
            ? last.sum('wsq_received_bytes_total', { path }) - before.msgqueue.sum('wsq_received_bytes_total', { path })
            : moved(name, 'wsq_received_bytes_total', { path });
      t.ok(received > 0, `${name} ${path}: bytes received`);
      t.ok(moved(name, 'wsq_sent_bytes_total', { path }) > 0, `${name} ${path}: bytes sent`);
    }

    // A second socket shows in the gauge, and leaves it once the server saw it close.
    const second = await open(trio.subscribeUrl());
    t.equal((await metricsOf('subscriber')).sum('wsq_connections_open', { path: '/subscribe' }), 2);
    const closed = nextLog(trio.subscriber, (l) => l.msg === 'connection closed');
    second.ws.close();
    await closed;
    t.equal((await metricsOf('subscriber')).sum('wsq_connections_open', { path: '/subscribe' }), 1);
  });

  await t.test('refusals are counted by reason', async (t) => {
    const before = await all();

    // Wrong password on the upgrade.
    const denied = await upgradeStatus(trio.publishUrl(), { ca: trio.tls.ca, user: 'alice', password: 'wrong-pw-42' });
    t.equal(denied.status, 401);

    // A user without publish permission (the subscriber's link user) publishes.
    const noPerm = await open(trio.publishUrl(), {
      v1: true,
      user: 'subscriber',
      password: USERS.subscriber.password,
    });
    noPerm.ws.send(JSON.stringify({ op: 'pub', topic: 'metrics.x', data: 1, id: 'f' }));
    t.match(await noPerm.reader.json(), { op: 'error', code: 'FORBIDDEN', id: 'f' });

    // Over the burst (100) at 1 message/s on a fresh connection.
    const flood = await open(trio.publishUrl());
    const SENT = 105;
    for (let i = 0; i < SENT; i++) flood.ws.send(JSON.stringify({ op: 'pub', topic: 'flood', data: i, id: `r${i}` }));
    let acked = 0;
    let limited = 0;
    while (acked + limited < SENT) {
      const f = await nextWhere(flood.reader, (m) => m.op === 'ack' || m.op === 'error');
      if (f.op === 'ack') acked++;
      else if (f.code === 'RATE_LIMITED') limited++;
    }
    t.ok(limited >= SENT - 101, 'the messages past the burst were refused');

    // A frame over the subscriber's --max-payload-bytes (65536): ws closes it with 1009.
    const big = await open(trio.subscribeUrl());
    const tooLarge = nextLog(trio.subscriber, (l) => l.reason === 'too_large');
    big.ws.send('x'.repeat(70_000));
    t.equal((await big.reader.waitClose()).code, 1009);
    await tooLarge;

    // A browser ticket works once; the second use is an auth failure.
    const issued = await httpsRequest(`https://localhost:${trio.subscriber.port}/v1/tickets`, {
      ca: trio.tls.ca,
      method: 'POST',
      ...ALICE,
    });
    t.equal(issued.status, 200);
    ticket = (JSON.parse(issued.body) as { ticket: string }).ticket;
    const withTicket = `${trio.subscribeUrl()}?ticket=${encodeURIComponent(ticket)}`;
    t.equal((await upgradeStatus(withTicket, { ca: trio.tls.ca })).status, 101, 'the ticket opens a socket');
    t.equal((await upgradeStatus(withTicket, { ca: trio.tls.ca })).status, 401, 'but only once');

    // /metrics of the msgqueue under --metrics-auth.
    const url = `https://localhost:${trio.msgqueue.port}/metrics`;
    const anonymous = await httpsRequest(url, { ca: trio.tls.ca });
    t.equal(anonymous.status, 401);
    t.match(anonymous.headers['www-authenticate'], /^Basic/);
    t.equal((await httpsRequest(url, { ca: trio.tls.ca, user: 'alice', password: 'nope' })).status, 401);
    t.equal((await httpsRequest(url, { ca: trio.tls.ca, ...ALICE })).status, 200);

    const after = await all();
    const moved = (name: ServiceName, metric: string, labels: Record<string, string>): number =>
      after[name].sum(metric, labels) - before[name].sum(metric, labels);
    t.equal(moved('publisher', 'wsq_auth_failures_total', { reason: 'bad_credentials' }), 1, 'auth failure');
    t.equal(moved('publisher', 'wsq_dropped_messages_total', { reason: 'forbidden' }), 1, 'forbidden drop');
    t.equal(moved('publisher', 'wsq_invalid_frames_total', { path: '/publish', code: 'FORBIDDEN' }), 1);
    t.equal(moved('publisher', 'wsq_dropped_messages_total', { reason: 'rate_limited' }), limited, 'rate limited');
    t.equal(moved('subscriber', 'wsq_closes_total', { reason: 'too_large' }), 1, 'too large');
    t.equal(moved('subscriber', 'wsq_auth_failures_total', { reason: 'bad_ticket' }), 1, 'reused ticket');
    t.equal(moved('msgqueue', 'wsq_auth_failures_total', { reason: 'metrics' }), 2, '/metrics refusals');
  });

  await t.test('a slow consumer is closed with 1013 and counted', async (t) => {
    const stalled = await open(trio.subscribeUrl());
    stalled.ws.send(JSON.stringify({ op: 'sub', topic: 'big', id: 'b' }));
    await nextWhere(stalled.reader, (f) => f.op === 'subscribed');
    // Stop reading: the kernel buffers fill, then the subscriber's unsent bytes grow.
    stalled.ws.pause();
    const before = await metricsOf('subscriber');

    let kicked = false;
    const kick = nextLog(trio.subscriber, (l) => l.reason === 'slow_consumer');
    void kick.then(() => (kicked = true));
    const pub = await open(trio.publishUrl());
    const payload = 'y'.repeat(MiB);
    let sent = 0;
    // Loopback socket buffers take a few MiB; stop as soon as the subscriber gave up on the reader.
    for (; sent < 64 && !kicked; sent++) {
      pub.ws.send(JSON.stringify({ op: 'pub', topic: 'big', data: payload, id: `big${sent}` }));
      await nextWhere(pub.reader, (f) => f.op === 'ack');
    }
    await kick;
    const after = await metricsOf('subscriber');
    t.equal(
      after.sum('wsq_closes_total', { reason: 'slow_consumer' }),
      1 + before.sum('wsq_closes_total', { reason: 'slow_consumer' }),
    );
    t.ok(after.sum('wsq_dropped_messages_total', { reason: 'slow_consumer' }) > 0, 'its undelivered message counted');
    t.ok(sent < 64, `kicked after ${sent} MiB`);
  });

  await t.test('only documented reasons appear', async (t) => {
    const known = {
      wsq_closes_total: Object.keys(CLOSE_REASONS),
      wsq_dropped_messages_total: Object.keys(DROP_REASONS),
      wsq_auth_failures_total: Object.keys(AUTH_FAILURE_REASONS),
    };
    const scrapes = await all();
    for (const name of SERVICES) {
      for (const [metric, reasons] of Object.entries(known)) {
        const seen = scrapes[name].samples.filter((s) => s.name === metric).map((s) => s.labels.reason);
        t.same(
          seen.filter((r) => !reasons.includes(r!)),
          [],
          `${name} ${metric}`,
        );
        t.ok(seen.length >= reasons.length, `${name} exports every ${metric} reason from the start`);
      }
    }
  });

  await t.test(
    'every log line is a JSON object with level, time, service and msg; none holds a secret or ticket',
    async (t) => {
      const secrets = [
        ...Object.values(USERS).map((u) => u.password),
        'wrong-pw-42',
        ticket,
        Buffer.from(`alice:${USERS.alice.password}`).toString('base64'),
      ];
      for (const name of SERVICES) {
        const proc = trio[name];
        t.ok(proc.lines.length > 3, `${name} logged`);
        const bad = proc.lines.filter(
          (l) =>
            typeof l.level !== 'string' ||
            typeof l.time !== 'string' ||
            Number.isNaN(Date.parse(l.time)) ||
            l.service !== name ||
            typeof l.msg !== 'string',
        );
        t.same(bad, [], `${name}: every stdout line is a JSON log object`);
        const text = JSON.stringify(proc.lines);
        t.same(
          secrets.filter((s) => text.includes(s)),
          [],
          `${name} never logs a password or credentials`,
        );
        t.notOk(/authorization/i.test(text), `${name} logs no Authorization header`);
      }
      // Connection-scoped lines carry the connection id.
      const scoped = new Set([
        'connection open',
        'connection closed',
        'connection closed: frame refused',
        'frame refused',
        'message dropped',
        'subscribed',
        'consumer attached',
        'client closed with 1013: it can resume with since',
      ]);
      const lines = SERVICES.flatMap((n) => trio[n].lines).filter((l) => scoped.has(String(l.msg)));
      t.ok(lines.length >= 10, 'connection-scoped lines were logged');
      t.same(
        [...scoped].filter((msg) => !lines.some((l) => l.msg === msg)),
        [],
        'each kind of connection-scoped line was seen',
      );
      t.same(
        lines.filter((l) => typeof l.conn !== 'string' || l.conn === ''),
        [],
        'each has conn',
      );
      const open = trio.subscriber.lines.filter((l) => l.msg === 'connection open');
      const closed = new Set(trio.subscriber.lines.filter((l) => l.msg === 'connection closed').map((l) => l.conn));
      t.ok(
        open.some((l) => closed.has(l.conn)),
        'open and close of one connection share its id',
      );
    },
  );
});
