/**
 * The wsq services' own account of what went wrong during a run: drop, close and
 * invalid-frame counters scraped from GET /metrics before and after, so a loss in the table
 * comes with the server's reason (e.g. `outbox_full` at the publisher).
 */
import { get } from 'node:https';

const COUNTERS = ['wsq_dropped_messages_total', 'wsq_closes_total', 'wsq_invalid_frames_total'];
const SCRAPE_TIMEOUT_MS = 5000;

/** `metric{labels}` → value, for the counters above (Prometheus text format). */
export function parseCounters(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line.trim());
    if (!m || !COUNTERS.includes(m[1])) continue;
    const value = Number(m[3]);
    if (Number.isFinite(value)) out[m[1] + (m[2] ?? '')] = value;
  }
  return out;
}

/** Counters that grew, with how much. */
export function diffCounters(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

function fetchText(url: URL, ca: string | undefined, authorization: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const req = get(
      { host: url.hostname, port: url.port, path: '/metrics', ca, headers, timeout: SCRAPE_TIMEOUT_MS },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Scrapes each service (by any of its wss:// URLs); one that cannot be scraped is left out. */
export async function scrapeCounters(
  urls: readonly string[],
  ca: string | undefined,
  auth?: { user: string; password: string },
): Promise<Record<string, number>> {
  const authorization = auth ? 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64') : undefined;
  const all: Record<string, number> = {};
  await Promise.all(
    urls.map(async (u) => {
      try {
        Object.assign(all, parseCounters(await fetchText(new URL(u), ca, authorization)));
      } catch {
        // Metrics are a diagnosis aid: a service without /metrics (ws-go) just adds nothing.
      }
    }),
  );
  return all;
}
