/**
 * wsq-server in this process, on port 0 with real TLS and a temp data dir: three ports over
 * one journal, one users file, one metrics registry served on every port, probes on every
 * port, and a close that ends clients with 1001 and leaves the journal to a restart.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword, resolveValues, writeUsersFile, type ConfigValues } from '@wsq/core';
import {
  connectWs,
  FrameReader,
  httpsRequest,
  logSink,
  testTls,
  upgradeStatus,
  type Teardown,
} from '@wsq/core/testing';
import t from 'tap';
import { createServer } from '../src/server.js';
import { OPTIONS, toServerConfig } from '../src/options.js';

async function tempDir(t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsq-server-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function start(t: Teardown, dir: string, over: Record<string, unknown> = {}) {
  const tls = await testTls();
  const usersFile = join(dir, 'users.json');
  writeUsersFile(usersFile, {
    version: 1,
    users: { alice: { password: await hashPassword('alice-secret'), publish: ['>'], subscribe: ['>'] } },
  });
  const values = resolveValues(
    OPTIONS,
    {
      queuePort: 0,
      publishPort: 0,
      subscribePort: 0,
      cert: tls.certPath,
      key: tls.keyPath,
      ca: tls.caPath,
      users: usersFile,
      dataDir: join(dir, 'data'),
      fsync: 'never',
      ...over,
    },
    {},
    {},
  );
  const logs = logSink('server');
  const server = await createServer(toServerConfig(values as ConfigValues), { log: logs.log });
  t.teardown(() => server.close());
  await server.listen();
  const a = server.addresses!;
  const url = (port: number, path: string, scheme = 'https'): string => `${scheme}://localhost:${port}${path}`;
  return { server, tls, usersFile, logs, a, url };
}

const alice = { user: 'alice', password: 'alice-secret' };

t.test('one process, three ports, one journal, one registry, probes everywhere', async (t) => {
  const dir = await tempDir(t);
  const { server, tls, a, url } = await start(t, dir);
  const ports = [a.queue.port, a.publish.port, a.subscribe.port];
  t.equal(new Set(ports).size, 3, 'three ports');

  const sub = await connectWs(url(a.subscribe.port, '/subscribe', 'wss'), { ca: tls.ca, ...alice, protocol: 'wsq.v1' });
  t.teardown(() => sub.terminate());
  const subReader = new FrameReader(sub);
  sub.send(JSON.stringify({ op: 'sub', topic: 'one.>', id: 's' }));
  t.match(await subReader.json(), { op: 'subscribed', id: 's' });
  const pub = await connectWs(url(a.publish.port, '/publish', 'wss'), { ca: tls.ca, ...alice, protocol: 'wsq.v1' });
  t.teardown(() => pub.terminate());
  const pubReader = new FrameReader(pub);
  pub.send(JSON.stringify({ op: 'pub', topic: 'one.x', data: 'hi', id: 'p' }));
  const ack = await pubReader.json();
  t.match(ack, { op: 'ack', id: 'p', seq: 1 });
  t.match(await subReader.json(), { op: 'msg', topic: 'one.x', data: 'hi', seq: 1 });

  for (const port of ports) {
    t.equal((await httpsRequest(url(port, '/readyz'), { ca: tls.ca })).status, 200, `readyz on ${port}`);
    t.equal((await httpsRequest(url(port, '/healthz'), { ca: tls.ca })).status, 200, `healthz on ${port}`);
    const text = (await httpsRequest(url(port, '/metrics'), { ca: tls.ca })).body;
    for (const family of ['wsq_queue_appended_total', 'wsq_publisher_published_total', 'wsq_subscriber_consumed_total'])
      t.match(text, new RegExp(`^${family}\\{wsq_service="server"\\} 1$`, 'm'), `${family} on ${port}`);
  }
  t.equal(
    (await upgradeStatus(url(a.queue.port, '/pushmsg', 'wss'), { ca: tls.ca })).status,
    401,
    'one users file: no credentials, 401',
  );

  // Closing ends the clients with 1001 and writes the journal: a restart on the same data
  // continues its seqs.
  const closed = subReader.waitClose();
  await server.close();
  t.equal((await closed).code, 1001);
  t.equal(server.addresses, undefined);
  const again = await start(t, dir);
  const pub2 = await connectWs(url(again.a.publish.port, '/publish', 'wss'), {
    ca: again.tls.ca,
    ...alice,
    protocol: 'wsq.v1',
  });
  t.teardown(() => pub2.terminate());
  const reader2 = new FrameReader(pub2);
  pub2.send(JSON.stringify({ op: 'pub', topic: 'one.x', data: 'again', id: 'p2' }));
  t.match(await reader2.json(), { op: 'ack', seq: 2 });
});

t.test('reload() re-reads the one users file for every port', async (t) => {
  const dir = await tempDir(t);
  const { server, tls, usersFile, a, url } = await start(t, dir);
  const bob = { user: 'bob', password: 'bob-secret' };
  for (const [port, path] of [
    [a.publish.port, '/publish'],
    [a.subscribe.port, '/subscribe'],
  ] as const)
    t.equal(
      (await upgradeStatus(url(port, path, 'wss'), { ca: tls.ca, ...bob })).status,
      401,
      `bob unknown on ${path}`,
    );
  writeUsersFile(usersFile, {
    version: 1,
    users: { bob: { password: await hashPassword('bob-secret'), publish: ['>'], subscribe: ['>'] } },
  });
  server.reload();
  for (const [port, path] of [
    [a.publish.port, '/publish'],
    [a.subscribe.port, '/subscribe'],
    [a.queue.port, '/popmsg'],
  ] as const) {
    await t.resolves(async () => {
      const ws = await connectWs(url(port, path, 'wss'), { ca: tls.ca, ...bob });
      ws.terminate();
    }, `bob known on ${path}`);
  }
});

t.test('a data dir that cannot be opened fails the start and leaves nothing open', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'data'), 'not a directory');
  await t.rejects(start(t, dir));
});

t.test('readiness waits for all three ports', async (t) => {
  // The subscribe port is taken: the queue and publish ports listen, and say they are not ready.
  const taken = createNetServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const busy = (taken.address() as AddressInfo).port;
  const dir = await tempDir(t);
  const tls = await testTls();
  const values = resolveValues(
    OPTIONS,
    {
      queuePort: 0,
      publishPort: 0,
      subscribePort: busy,
      cert: tls.certPath,
      key: tls.keyPath,
      ca: tls.caPath,
      demo: true,
      dataDir: join(dir, 'data'),
    },
    {},
    {},
  );
  const logs = logSink('server');
  const server = await createServer(toServerConfig(values as ConfigValues), { log: logs.log });
  t.teardown(() => server.close());
  await t.rejects(server.listen(), { code: 'EADDRINUSE' });
  t.equal(server.addresses, undefined);
  const line = logs.lines().find((l) => l.paths === '/pushmsg, /popmsg') as { port: number } | undefined;
  t.ok(line, 'the queue port listens');
  t.equal((await httpsRequest(`https://localhost:${line!.port}/readyz`, { ca: tls.ca })).status, 503);
  t.equal((await httpsRequest(`https://localhost:${line!.port}/healthz`, { ca: tls.ca })).status, 200);
});
