/**
 * The HTTP API benchmark (`npm run bench:http`): on a fresh trio (trio.ts), publish throughput
 * of `POST /v1/messages` with keep-alive connections (requests/s and latency percentiles),
 * then a journal filled to `fillMessages` with batches, and the time of a date-range history
 * query at its end (`GET /v1/messages?dateStart=…`), which the journal's time index answers
 * without a scan.
 */
import { Agent, request } from 'node:https';
import { build } from 'hdr-histogram-js';
import { startTrio, type Trio } from './trio.js';

export interface HttpBenchOptions {
  connections: number;
  durationMs: number;
  fillMessages: number;
  /** Messages the date range covers, at the end of the journal. */
  rangeMessages: number;
  queries: number;
}

export const HTTP_BENCH_DEFAULTS: HttpBenchOptions = {
  connections: 16,
  durationMs: 10_000,
  fillMessages: 1_000_000,
  rangeMessages: 500,
  queries: 20,
};

interface Answer {
  status: number;
  body: string;
}

function call(agent: Agent, trio: Trio, url: string, method: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        ca: trio.ca,
        auth: `${trio.user}:${trio.password}`,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const base = (wsUrl: string): string => new URL(wsUrl).origin.replace(/^wss:/, 'https:');

/** Keep-alive publishers, each posting one message at a time for `durationMs`. */
async function publishLoad(trio: Trio, o: HttpBenchOptions): Promise<Record<string, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const url = `${base(trio.publishUrl)}/v1/messages`;
  const hist = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let ok = 0;
  let failed = 0;
  const body = JSON.stringify({ topic: 'bench.http', data: 'x'.repeat(64) });
  const started = performance.now();
  const until = started + o.durationMs;
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const a = await call(agent, trio, url, 'POST', body);
        hist.recordValue(Math.round((performance.now() - t0) * 1000));
        if (a.status === 201) ok++;
        else failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    requestsPerSec: Math.round(ok / seconds),
    failed,
    p50Ms: hist.getValueAtPercentile(50) / 1000,
    p99Ms: hist.getValueAtPercentile(99) / 1000,
    maxMs: hist.maxValue / 1000,
  };
}

/** Fills the journal with small messages, 1000 per batch post, several posts in flight. */
async function fill(trio: Trio, total: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const url = `${base(trio.publishUrl)}/v1/messages`;
  const batch = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ topic: 'fill.t', data: i })));
  let left = Math.ceil(total / 1000);
  let lastSeq = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) {
        const a = await call(agent, trio, url, 'POST', batch);
        if (a.status !== 201) throw new Error(`fill: ${a.status} ${a.body}`);
        const { messages } = JSON.parse(a.body) as { messages: { seq: number }[] };
        lastSeq = Math.max(lastSeq, messages[messages.length - 1]!.seq);
      }
    }),
  );
  agent.destroy();
  return lastSeq;
}

/** Times a date range at the end of the journal (its start found through the time index). */
async function historyAtEnd(trio: Trio, o: HttpBenchOptions, lastSeq: number): Promise<Record<string, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const sub = `${base(trio.subscribeUrl)}/v1/messages`;
  // The ts of the message rangeMessages before the end: read it with a seq query.
  const probe = JSON.parse(
    (await call(agent, trio, `${sub}?topic=fill.t&since=${lastSeq - o.rangeMessages}&limit=1`, 'GET')).body,
  ) as { messages: { ts: number }[] };
  const dateStart = new Date(probe.messages[0]!.ts).toISOString();
  const times: number[] = [];
  let got = 0;
  for (let i = 0; i < o.queries; i++) {
    const t0 = performance.now();
    const a = await call(agent, trio, `${sub}?topic=fill.t&dateStart=${dateStart}&limit=1000`, 'GET');
    times.push(performance.now() - t0);
    got = (JSON.parse(a.body) as { messages: unknown[] }).messages.length;
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  return {
    journalMessages: lastSeq,
    rangeMessagesReturned: got,
    medianMs: Math.round(times[Math.floor(times.length / 2)]! * 100) / 100,
    maxMs: Math.round(times[times.length - 1]! * 100) / 100,
  };
}

export async function runHttpBench(o: HttpBenchOptions, out: NodeJS.WritableStream): Promise<void> {
  const trio = await startTrio();
  try {
    out.write(`publish: ${o.connections} keep-alive connections for ${o.durationMs} ms\n`);
    out.write(`${JSON.stringify(await publishLoad(trio, o))}\n`);
    out.write(`filling the journal to ${o.fillMessages} messages (batches of 1000)\n`);
    const lastSeq = await fill(trio, o.fillMessages);
    out.write(`history: the last ${o.rangeMessages} messages by dateStart, ${o.queries} queries\n`);
    out.write(`${JSON.stringify(await historyAtEnd(trio, o, lastSeq))}\n`);
  } finally {
    await trio.stop();
  }
}
