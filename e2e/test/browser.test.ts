/**
 * The browser demo page (subscriber --demo) and @wsq/client's browser bundle in real headless
 * Chromium: one page subscribes while another publishes; the subscriber service is killed and
 * restarted and the page shows the reconnect and misses nothing; a foreign Origin is refused.
 * One Chromium and one trio for the whole file. Without /usr/bin/chromium the file is skipped.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, USERS, createTrio, type Trio } from './harness.js';
import { scrape } from './prom.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'e2e/artifacts');

if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is missing; install it to run the browser tests: apt-get install chromium`);
} else {
  await run();
}

/** base64 SHA-256 of the certificate's public key: Chromium trusts that key only, not every certificate. */
function spkiHash(certPem: Buffer): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

async function run(): Promise<void> {
  const { chromium } = await import('playwright-core');
  const trio: Trio = await createTrio(t);
  const subPort = trio.subscriber.port;
  const origin = `https://localhost:${subPort}`;
  // Only the demo page's own origin may use the services from a browser.
  const allowed = ['--allowed-origins', origin];
  const subscriberFlags = ['--demo', ...allowed];
  await Promise.all([trio.subscriber.terminate(), trio.publisher.terminate()]);
  await Promise.all([trio.start('subscriber', subscriberFlags), trio.start('publisher', allowed)]);
  await trio.subscriber.waitLog((l) => l.msg === 'msgqueue link up');

  const profile = mkdtempSync(join(tmpdir(), 'wsq-chromium-'));
  t.teardown(() => rmSync(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spkiHash(trio.tls.cert)}`,
    ],
  });
  t.teardown(() => browser.close());

  const pageUrl = (host: string) =>
    `https://${host}:${subPort}/demo/?publisher=${encodeURIComponent(trio.publishUrl())}`;

  async function logIn(host = 'localhost') {
    const page = await browser.newPage();
    await page.goto(pageUrl(host));
    await page.fill('#user', 'alice');
    await page.fill('#password', USERS.alice.password);
    await page.click('#connect');
    return page;
  }

  t.test('one page subscribes, the other publishes, the message appears', async (t) => {
    const reader = await logIn();
    await reader.waitForSelector('#state[data-state="open"]');
    await reader.fill('#pattern', 'demo.>');
    await reader.click('#subscribe button');
    await reader.waitForSelector('#subscribed[data-pattern="demo.>"]');

    const writer = await logIn();
    await writer.waitForSelector('#state[data-state="open"]');
    await writer.fill('#topic', 'demo.chat');
    await writer.fill('#text', 'hello from the other page');
    await writer.click('#publish button');
    await writer.waitForSelector('#acked:has-text("acked, seq")');
    const row = reader.locator('#messages tr', { hasText: 'hello from the other page' });
    await row.waitFor();
    t.match(await row.locator('td').allTextContents(), [/^\d+$/, 'demo.chat', '"hello from the other page"']);

    t.test('the subscriber is killed and restarted: the indicator shows it, nothing is missing', async (t) => {
      await trio.subscriber.kill9();
      await reader.waitForSelector('#state[data-state="reconnecting"]');
      // Published while the page has no subscriber to talk to.
      const acked: string[] = [];
      for (let i = 1; i <= 5; i++) {
        await writer.fill('#text', `while away ${i}`);
        await writer.click('#publish button');
        await writer.waitForSelector(`#acked:not(:has-text("${acked.at(-1) ?? '-'}"))`);
        acked.push((await writer.textContent('#acked'))!);
      }
      await trio.start('subscriber', subscriberFlags);
      await reader.waitForSelector('#state[data-state="open"][data-reconnects="1"]');
      t.match(await reader.textContent('#state'), /reconnected 1×/);
      await reader.locator('#messages tr', { hasText: 'while away 5' }).waitFor();
      const rows = await reader
        .locator('#messages tr')
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      const texts = rows.map((r) => r[2]);
      t.same(
        texts,
        ['"hello from the other page"', ...[1, 2, 3, 4, 5].map((i) => `"while away ${i}"`)],
        'every message once, in order',
      );
      const seqs = rows.map((r) => Number(r[0]));
      t.ok(
        seqs.every((s, k) => k === 0 || s > seqs[k - 1]!),
        'seqs increase',
      );
      t.same(
        seqs.slice(1).map((s) => `acked, seq ${s}`),
        acked,
        'the seqs the publisher acknowledged',
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      await reader.screenshot({ path: join(ARTIFACTS, 'browser-demo.png'), fullPage: true });
    });
  });

  t.test('a page from a foreign Origin is refused', async (t) => {
    const before = (await scrape(trio.subscriber, trio.tls)).sum('wsq_auth_failures_total', { reason: 'origin' });
    // The same page, served from https://127.0.0.1:PORT: an origin not in --allowed-origins.
    const page = await logIn('127.0.0.1');
    await page.waitForSelector('#error:has-text("FORBIDDEN_ORIGIN")');
    t.equal(await page.getAttribute('#state', 'data-state'), 'closed');
    // A WebSocket from that origin (with no ticket to spare) is refused at the upgrade too.
    const code = await page.evaluate(
      (url) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(url, ['wsq.v1']);
          ws.onclose = (ev) => resolve(ev.code);
        }),
      `wss://127.0.0.1:${subPort}/subscribe`,
    );
    t.equal(code, 1006, 'the upgrade fails');
    const after = (await scrape(trio.subscriber, trio.tls)).sum('wsq_auth_failures_total', { reason: 'origin' });
    t.equal(after - before, 2, 'the ticket request and the upgrade, both refused for their origin');
  });
}
