/**
 * Reading what an operator reads: a small parser of the Prometheus text format for scraping
 * the services' /metrics, and a wait for the next log line of a service that matches.
 */
import { httpsRequest, type TestTls } from '@wsq/core/testing';
import type { LogLine, ServiceProcess } from './harness.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Sample[];
  /** Metric family name → type (counter, gauge, histogram, …), from the `# TYPE` lines. */
  types: Map<string, string>;
  /** The sum of the samples named `name` whose labels include `labels` (0 when none). */
  sum(name: string, labels?: Record<string, string>): number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k!] = v!.replace(/\\(.)/g, (_s, c: string) => c);
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return {
    samples,
    types,
    sum(name, want = {}) {
      return samples
        .filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v))
        .reduce((acc, s) => acc + s.value, 0);
    },
  };
}

/** A port to ask: a ServiceProcess, or one port of wsq-server. */
export type Listener = Pick<ServiceProcess, 'name' | 'port'>;

export interface Credentials {
  user: string;
  password: string;
}

/** GET /metrics of a running service; throws unless it answers 200. */
export async function scrape(proc: Listener, tls: TestTls, auth?: Credentials): Promise<Scrape> {
  const res = await httpsRequest(`https://localhost:${proc.port}/metrics`, { ca: tls.ca, ...auth });
  if (res.status !== 200) throw new Error(`${proc.name} /metrics answered ${res.status}`);
  return parseMetrics(res.body);
}

export async function status(proc: Listener, tls: TestTls, path: string): Promise<number> {
  return (await httpsRequest(`https://localhost:${proc.port}${path}`, { ca: tls.ca })).status;
}

/** A waiter for the first line logged after this call that matches. */
export function nextLog(proc: ServiceProcess, match: (l: LogLine) => boolean): Promise<LogLine> {
  const before = new Set(proc.lines);
  return proc.waitLog((l) => !before.has(l) && match(l));
}
