/**
 * An attacker in its own process (so its TLS work does not sit in the test's event loop,
 * as it would not share a real client's): failed logins and half-open upgrades against the
 * given URLs, from other loopback addresses. Prints `launched` once every socket is on its way,
 * then one JSON line `{ statuses, halfOpenClosed }` when the servers answered or closed them all.
 *
 *   node flood.js '{"urls":[…],"caPath":"…","logins":100,"halfOpen":100}'
 */
import { readFileSync } from 'node:fs';
import { halfOpenUpgrade, upgradeAttempt } from './raw.js';

interface FloodPlan {
  urls: string[];
  caPath: string;
  /** Failed logins per URL, each with another password. */
  logins: number;
  /** Half-open upgrade requests per URL. */
  halfOpen: number;
}

export async function flood(
  plan: FloodPlan,
  onLaunched: () => void,
): Promise<{ statuses: number[]; halfOpenClosed: number }> {
  const ca = readFileSync(plan.caPath);
  const logins: Promise<number>[] = [];
  const halfOpen: Promise<void>[] = [];
  for (const url of plan.urls) {
    for (let i = 0; i < plan.logins; i++) {
      logins.push(upgradeAttempt(url, { ca, user: 'alice', password: `guess-${i}`, localAddress: '127.0.0.2' }));
    }
    for (let i = 0; i < plan.halfOpen; i++)
      halfOpen.push(halfOpenUpgrade(url, { ca, localAddress: '127.0.0.3' }).closed);
  }
  onLaunched();
  const statuses = await Promise.all(logins);
  await Promise.all(halfOpen);
  return { statuses, halfOpenClosed: halfOpen.length };
}

if (process.argv[1]?.endsWith('flood.js') && process.argv[2] !== undefined) {
  const plan = JSON.parse(process.argv[2]) as FloodPlan;
  const result = await flood(plan, () => process.stdout.write('launched\n'));
  process.stdout.write(JSON.stringify(result) + '\n');
}
