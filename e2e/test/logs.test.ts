/**
 * No log line ever holds a password, an Authorization header value or a ticket: the trio
 * runs at debug level, sees good and bad logins, tickets issued, used, reused and forged,
 * then stops (flushing its logs), and every line of every service, and its stderr, is searched.
 */
import t from 'tap';
import { connectWs, httpsRequest, upgradeStatus } from '@wsq/core/testing';
import { connectClient, nextWhere } from './clients.js';
import { createTrio, USERS, type ServiceProcess } from './harness.js';

t.test('no log line holds a password, an Authorization value or a ticket', async (t) => {
  const trio = await createTrio(t);
  const ca = trio.tls.ca;
  const secrets = new Set<string>();
  const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');
  for (const [name, u] of Object.entries(USERS)) {
    secrets.add(u.password);
    secrets.add(basic(name, u.password));
  }
  const base = (p: ServiceProcess) => `https://localhost:${p.port}`;

  // Good logins, a roundtrip.
  const sub = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  sub.ws.send(JSON.stringify({ op: 'sub', topic: 'logs.>', id: 's' }));
  await nextWhere(sub.reader, (f) => f.op === 'subscribed');
  const pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  pub.ws.send(JSON.stringify({ op: 'pub', topic: 'logs.a', data: 'x', id: 'p' }));
  await nextWhere(pub.reader, (f) => f.op === 'ack');
  await nextWhere(sub.reader, (f) => f.op === 'msg');

  // Failed logins: wrong passwords, an unknown user, on every service and endpoint.
  for (const [user, password] of [
    ['alice', 'wrong-password-7f3a'],
    ['mallory', 'mallory-guess-91c2'],
    ['subscriber', 'not-the-link-secret-55'],
  ] as const) {
    secrets.add(password);
    secrets.add(basic(user, password));
    for (const p of [trio.msgqueue, trio.publisher, trio.subscriber]) {
      const path = p === trio.msgqueue ? '/pushmsg' : p === trio.publisher ? '/publish' : '/subscribe';
      const url = `wss://localhost:${p.port}${path}`;
      t.equal((await upgradeStatus(url, { ca, user, password })).status, 401);
      t.equal((await httpsRequest(`${base(p)}${path}`, { ca, user, password })).status, 401);
    }
    t.equal(
      (await httpsRequest(`${base(trio.publisher)}/v1/tickets`, { ca, user, password, method: 'POST' })).status,
      401,
    );
  }

  // Tickets: issued, used, reused, forged, and one left unused.
  for (const p of [trio.publisher, trio.subscriber]) {
    const url = p === trio.publisher ? trio.publishUrl() : trio.subscribeUrl();
    const issue = async () => {
      const res = await httpsRequest(`${base(p)}/v1/tickets`, {
        ca,
        user: 'alice',
        password: 'alice-secret',
        method: 'POST',
      });
      const { ticket } = JSON.parse(res.body) as { ticket: string };
      secrets.add(ticket);
      return ticket;
    };
    const used = await issue();
    const ws = await connectWs(`${url}?ticket=${used}`, { ca });
    ws.close();
    t.equal((await upgradeStatus(`${url}?ticket=${used}`, { ca })).status, 401);
    await issue();
    const forged = 'forged-ticket-0b9d4e';
    secrets.add(forged);
    t.equal((await upgradeStatus(`${url}?ticket=${forged}`, { ca })).status, 401);
  }

  pub.ws.close();
  sub.ws.close();
  // Stopping flushes every service's log.
  for (const p of [trio.publisher, trio.subscriber, trio.msgqueue]) t.match(await p.terminate(), { code: 0 });

  const all = [trio.msgqueue, trio.publisher, trio.subscriber];
  t.ok(
    all.some((p) => p.lines.some((l) => l.msg === 'upgrade refused: bad credentials')),
    'the failed logins were logged',
  );
  t.ok(
    trio.publisher.lines.some((l) => String(l.msg).includes('ticket')),
    'the ticket events were logged',
  );
  t.ok(
    all.every((p) => p.lines.some((l) => l.level === 'debug')),
    'at debug level',
  );
  for (const p of all) {
    const text = p.lines.map((l) => JSON.stringify(l)).join('\n') + '\n' + p.stderr.join('\n');
    const leaked = [...secrets].filter((s) => text.includes(s));
    t.same(leaked, [], `${p.name}: ${p.lines.length} log lines hold no secret`);
  }
});
