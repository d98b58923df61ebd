/**
 * DESIGN section 2 against the running trio: users reloaded without dropping connections,
 * per-topic permissions, the services' own link users, browser tickets, TLS versions and the
 * links' certificate verification.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import t from 'tap';
import { generateCerts, hashPassword, readUsersFile, writeUsersFile } from '@wsq/core';
import { connectWs, FrameReader, httpsRequest, upgradeStatus } from '@wsq/core/testing';
import { connectClient, nextWhere, type Client } from './clients.js';
import { createTrio, spawnService, type ServiceProcess, type Trio } from './harness.js';

const trio: Trio = await createTrio(t);
const base = (p: ServiceProcess) => `https://localhost:${p.port}`;

async function closeAll(clients: Client[]): Promise<void> {
  for (const c of clients) c.ws.close();
  await Promise.all(clients.map((c) => c.reader.waitClose()));
}

/** Changes the users file and waits until publisher and subscriber re-read it. */
async function editUsers(change: (users: ReturnType<typeof readUsersFile>['users']) => Promise<void>): Promise<void> {
  const edges = [trio.publisher, trio.subscriber];
  const reloaded = (p: ServiceProcess) =>
    p.lines.filter((l) => l.msg === 'users file changed on disk; reloaded').length;
  const before = edges.map(reloaded);
  const file = readUsersFile(trio.usersFile);
  await change(file.users);
  writeUsersFile(trio.usersFile, file);
  await Promise.all(edges.map((p, i) => p.waitLog(() => reloaded(p) > before[i]!)));
}

async function metric(p: ServiceProcess, line: RegExp): Promise<number> {
  const body = (await httpsRequest(`${base(p)}/metrics`, { ca: trio.tls.ca })).body;
  const hit = body.split('\n').find((l) => line.test(l));
  return hit === undefined ? 0 : Number(hit.split(' ').pop());
}

t.test('the users file is reloaded on change and SIGHUP without dropping connections', async (t) => {
  const alice = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  alice.ws.send(JSON.stringify({ op: 'sub', topic: 'reload.>', id: 'a' }));
  t.match(await alice.reader.json(), { op: 'subscribed', id: 'a' });
  const dave = { ca: trio.tls.ca, user: 'dave', password: 'dave-secret' };
  t.equal((await upgradeStatus(trio.publishUrl(), dave)).status, 401, 'dave is unknown');

  await editUsers(async (users) => {
    users.dave = { password: await hashPassword('dave-secret'), publish: ['reload.>'], subscribe: [] };
  });
  const davePub = await connectClient(trio.publishUrl(), trio.tls, { v1: true, user: 'dave', password: 'dave-secret' });
  davePub.ws.send(JSON.stringify({ op: 'pub', topic: 'reload.one', data: 1, id: 'd1' }));
  t.match(await davePub.reader.json(), { op: 'ack', id: 'd1' }, 'a user added to the file can publish');
  t.match(await alice.reader.json(), { op: 'msg', topic: 'reload.one' }, 'the connected client kept receiving');

  await editUsers(async (users) => {
    delete users.dave;
  });
  t.equal((await upgradeStatus(trio.publishUrl(), dave)).status, 401, 'a removed user can no longer connect');
  t.equal((await upgradeStatus(trio.subscribeUrl(), dave)).status, 401);

  const hups = trio.subscriber.lines.filter((l) => l.msg === 'SIGHUP: reloading').length;
  trio.subscriber.child.kill('SIGHUP');
  trio.publisher.child.kill('SIGHUP');
  await trio.subscriber.waitLog(() => trio.subscriber.lines.filter((l) => l.msg === 'SIGHUP: reloading').length > hups);
  const pub = await connectClient(trio.publishUrl(), trio.tls, { v1: true });
  pub.ws.send(JSON.stringify({ op: 'pub', topic: 'reload.two', data: 2, id: 'after-hup' }));
  t.match(await nextWhere(pub.reader, (f) => f.op === 'ack'), { id: 'after-hup' });
  t.match(await alice.reader.json(), { op: 'msg', topic: 'reload.two' }, 'still connected after SIGHUP');
  t.equal(alice.reader.closed, undefined);
  await closeAll([alice, davePub, pub]);
});

t.test('permissions: FORBIDDEN for v1 outside the patterns, legacy ignored and counted', async (t) => {
  await editUsers(async (users) => {
    users.carol = { password: await hashPassword('carol-secret'), publish: ['chat.>'], subscribe: ['chat.*'] };
  });
  const carol = { v1: true, user: 'carol', password: 'carol-secret' };
  const watcher = await connectClient(trio.subscribeUrl(), trio.tls, { v1: true });
  watcher.ws.send(JSON.stringify({ op: 'sub', topic: '>', id: 'all' }));
  t.match(await watcher.reader.json(), { op: 'subscribed', id: 'all' });

  const sub = await connectClient(trio.subscribeUrl(), trio.tls, carol);
  sub.ws.send(JSON.stringify({ op: 'sub', topic: '>', id: 's1' }));
  t.match(await sub.reader.json(), { op: 'error', id: 's1', code: 'FORBIDDEN' });
  sub.ws.send(JSON.stringify({ op: 'sub', topic: 'chat.>', id: 's2' }));
  t.match(await sub.reader.json(), { op: 'error', id: 's2', code: 'FORBIDDEN' }, 'chat.* does not cover chat.>');
  sub.ws.send(JSON.stringify({ op: 'sub', topic: 'chat.eu', id: 's3' }));
  t.match(await sub.reader.json(), { op: 'subscribed', id: 's3' }, 'the connection stayed open');

  const pub = await connectClient(trio.publishUrl(), trio.tls, carol);
  pub.ws.send(JSON.stringify({ op: 'pub', topic: 'news', data: 'nope', id: 'p1' }));
  t.match(await pub.reader.json(), { op: 'error', id: 'p1', code: 'FORBIDDEN' });
  pub.ws.send(JSON.stringify({ op: 'pub', topic: 'chat.eu', data: 'yes', id: 'p2' }));
  t.match(await pub.reader.json(), { op: 'ack', id: 'p2' }, 'the connection stayed open');
  t.match(await sub.reader.json(), { op: 'msg', topic: 'chat.eu', data: 'yes' });
  t.match(await watcher.reader.json(), { op: 'msg', topic: 'chat.eu', data: 'yes' });

  const forbidden = /^wsq_invalid_frames_total\{.*path="\/publish".*code="FORBIDDEN"/;
  const counted = await metric(trio.publisher, forbidden);
  const legacy = await connectClient(trio.publishUrl(), trio.tls, { user: 'carol', password: 'carol-secret' });
  legacy.ws.send('{"Topic":"news","Content":"nope"}');
  legacy.ws.send('{"Topic":"chat.legacy","Content":"yes"}');
  t.match(
    await watcher.reader.json(),
    { op: 'msg', topic: 'chat.legacy', data: 'yes' },
    'the forbidden legacy frame was dropped, the next one delivered',
  );
  t.equal(await metric(trio.publisher, forbidden), counted + 1, 'and counted');
  t.equal(legacy.reader.pending, 0, 'legacy clients get no error frame');
  t.equal(legacy.reader.closed, undefined);
  await closeAll([watcher, sub, pub, legacy]);
});

t.test('publisher and subscriber link to the msgqueue with their own users', async (t) => {
  const opened = (path: string) =>
    trio.msgqueue.lines.find((l) => l.msg === 'connection open' && l.path === path)?.user;
  await trio.msgqueue.waitLog((l) => l.msg === 'connection open' && l.path === '/pushmsg');
  await trio.msgqueue.waitLog((l) => l.msg === 'connection open' && l.path === '/popmsg');
  t.equal(opened('/pushmsg'), 'publisher');
  t.equal(opened('/popmsg'), 'subscriber');
});

t.test('browser tickets: POST /v1/tickets, then upgrade with ?ticket= and no Authorization', async (t) => {
  const alice = { ca: trio.tls.ca, user: 'alice', password: 'alice-secret' };
  async function ticketFor(p: ServiceProcess): Promise<string> {
    const res = await httpsRequest(`${base(p)}/v1/tickets`, { ...alice, method: 'POST' });
    t.equal(res.status, 200);
    t.equal(res.headers['cache-control'], 'no-store');
    const body = JSON.parse(res.body) as { ticket: string; expiresAt: number };
    t.ok(body.expiresAt > Date.now() && body.expiresAt <= Date.now() + 30_000);
    return body.ticket;
  }
  const subTicket = await ticketFor(trio.subscriber);
  const subWs = await connectWs(`${trio.subscribeUrl()}?ticket=${subTicket}`, { ca: trio.tls.ca, protocol: 'wsq.v1' });
  const sub = { ws: subWs, reader: new FrameReader(subWs) };
  sub.ws.send(JSON.stringify({ op: 'sub', topic: 'browser.news', id: 'b' }));
  t.match(await sub.reader.json(), { op: 'subscribed', id: 'b' });

  const pubTicket = await ticketFor(trio.publisher);
  t.equal(
    (await upgradeStatus(`${trio.subscribeUrl()}?ticket=${pubTicket}`, { ca: trio.tls.ca })).status,
    401,
    'a ticket is only good on the service that issued it',
  );
  const pubTicket2 = await ticketFor(trio.publisher);
  const pubWs = await connectWs(`${trio.publishUrl()}?ticket=${pubTicket2}`, { ca: trio.tls.ca, protocol: 'wsq.v1' });
  const pub = { ws: pubWs, reader: new FrameReader(pubWs) };
  pub.ws.send(JSON.stringify({ op: 'pub', topic: 'browser.news', data: 'from a browser', id: 'bp' }));
  t.match(await pub.reader.json(), { op: 'ack', id: 'bp' });
  t.match(await sub.reader.json(), { op: 'msg', topic: 'browser.news', data: 'from a browser' });
  const reused = await upgradeStatus(`${trio.publishUrl()}?ticket=${pubTicket2}`, { ca: trio.tls.ca });
  t.equal(reused.status, 401, 'a used ticket gets 401');
  t.equal((await httpsRequest(`${base(trio.publisher)}/v1/tickets`, { ca: trio.tls.ca, method: 'POST' })).status, 401);
  await closeAll([sub, pub]);
});

t.test('TLS 1.2 and 1.3 are served; TLS 1.1 is refused', async (t) => {
  for (const p of [trio.msgqueue, trio.publisher, trio.subscriber]) {
    const attempt = (min: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3', max: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3') =>
      new Promise<string>((resolve) => {
        const sock = connect({
          host: '127.0.0.1',
          port: p.port,
          servername: 'localhost',
          ca: trio.tls.ca,
          minVersion: min,
          maxVersion: max,
          // Let the client offer old versions at all (OpenSSL 3 refuses them at its default level).
          ciphers: 'DEFAULT@SECLEVEL=0',
        });
        sock.once('secureConnect', () => {
          resolve(sock.getProtocol() ?? '');
          sock.destroy();
        });
        sock.once('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code}`));
      });
    t.match(await attempt('TLSv1', 'TLSv1.1'), /^refused: .*PROTOCOL_VERSION/, `${p.name}: TLS 1.1 refused`);
    t.equal(await attempt('TLSv1.2', 'TLSv1.2'), 'TLSv1.2', `${p.name}: TLS 1.2`);
    t.equal(await attempt('TLSv1.3', 'TLSv1.3'), 'TLSv1.3', `${p.name}: TLS 1.3`);
  }
});

t.test('the links verify the msgqueue certificate: with an untrusted CA they never become ready', async (t) => {
  const otherCa = join(trio.dir, 'other-ca.crt');
  writeFileSync(otherCa, (await generateCerts(1)).caCert);
  const tls = ['--cert', trio.tls.certPath, '--key', trio.tls.keyPath, '--ca', otherCa, '--users', trio.usersFile];
  const queue = ['--queue', `wss://localhost:${trio.msgqueue.port}`, '--port', '0', '--host', '127.0.0.1'];
  const procs = (['publisher', 'subscriber'] as const).map((name) => {
    const p = spawnService(name, [
      ...tls,
      ...queue,
      '--queue-user',
      name,
      '--queue-password',
      `${name.slice(0, 3)}-link-secret`,
    ]);
    t.teardown(() => p.kill9());
    return p;
  });
  for (const p of procs) {
    await p.listening();
    const why = await p.waitLog((l) => l.msg === 'msgqueue link down');
    t.match(String(why.detail), /certificate not trusted/, `${p.name}: the log says why`);
    t.equal((await httpsRequest(`${base(p)}/readyz`, { ca: trio.tls.ca })).status, 503, `${p.name}: not ready`);
    t.notOk(
      p.lines.some((l) => l.msg === 'msgqueue link up'),
      `${p.name}: never linked`,
    );
  }
  const res = await httpsRequest(`${base(trio.publisher)}/readyz`, { ca: trio.tls.ca });
  t.equal(res.status, 200, 'the trusting publisher is ready');
});
