/**
 * The HTTP API against hostile or careless clients, on the real trio with small limits: the
 * per-user rate limit (429 + Retry-After), slow headers and slow bodies (408 within the named
 * timeouts), a huge chunked body (413 without reading it all). Answers are checked against
 * docs/openapi.json where the document describes them.
 */
import { connect } from 'node:tls';
import t, { type Test } from 'tap';
import { request } from 'node:https';
import { createTrio, USERS, type Trio } from './harness.js';
import { api, conformance } from './openapi.js';

const ALICE = { user: 'alice', password: USERS.alice.password };
const AUTH = 'Basic ' + Buffer.from(`alice:${USERS.alice.password}`).toString('base64');

let trio: Trio;
t.before(async () => {
  trio = await createTrio(t, {
    publisher: [
      '--publish-rate-per-sec',
      '1',
      '--publish-burst',
      '3',
      '--handshake-timeout-ms',
      '300',
      '--request-timeout-ms',
      '600',
    ],
  });
});

async function post(t: Test, body: string) {
  const a = await api(`https://localhost:${trio.publisher.port}/v1/messages`, {
    method: 'POST',
    auth: ALICE,
    headers: { 'content-type': 'application/json' },
    body,
    ca: trio.tls.ca,
  });
  t.same(a.problems, [], `${a.status} conforms to the OpenAPI document`);
  return a;
}

/** Writes `parts` on a TLS connection to the publisher and resolves with all it answered before closing. */
function rawExchange(parts: string[]): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ port: trio.publisher.port, host: '127.0.0.1', servername: 'localhost', ca: trio.tls.ca });
    const chunks: Buffer[] = [];
    socket.on('secureConnect', () => {
      for (const p of parts) socket.write(p);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text: Buffer.concat(chunks).toString(), ms: Date.now() - started }));
  });
}

t.test('the per-user rate limit answers 429 with Retry-After, each message of a batch counting', async (t) => {
  const batch = await post(t, JSON.stringify([1, 2, 3, 4].map((n) => ({ topic: 'rate.a', data: n }))));
  t.match({ s: batch.status, e: batch.json() }, { s: 429, e: { error: { code: 'RATE_LIMITED' } } }, 'past the burst');
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) codes.push((await post(t, '{"topic":"rate.a","data":1}')).status);
  t.same(codes.slice(0, 3), [201, 201, 201], 'the burst');
  t.equal(codes[3], 429);
  const refused = await post(t, '{"topic":"rate.a","data":1}');
  t.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After in seconds');
});

t.test('slow headers and slow bodies get 408 within the timeouts', async (t) => {
  const headers = await rawExchange(['POST /v1/messages HTTP/1.1\r\nHost: localhost\r\n']);
  t.match(headers.text, /^HTTP\/1\.1 408/, 'headers never finished');
  t.ok(headers.ms < 5_000, `closed after ${headers.ms} ms`);
  const body = await rawExchange([
    `POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${AUTH}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"topic":`,
  ]);
  t.match(body.text, /^HTTP\/1\.1 408/, 'body never finished');
  t.ok(body.ms < 5_000, `closed after ${body.ms} ms`);
});

t.test('a huge chunked body is refused with 413 and not read to its end', async (t) => {
  const LIMIT = 64 * 1024 * 1024;
  let sent = 0;
  const answer = await new Promise<
    | { status: number; headers: Record<string, string | string[] | undefined>; body: string; error?: undefined }
    | { status: 0; error: string }
  >((resolve) => {
    const req = request(
      `https://localhost:${trio.publisher.port}/v1/messages`,
      {
        method: 'POST',
        ca: trio.tls.ca,
        agent: false,
        headers: { authorization: AUTH, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    // The server stops reading and closes: a write of ours may fail before its 413 is read (the
    // reset can overtake it), which shows as well that the body was not read to its end.
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, error: err.code ?? err.message }));
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const pump = (): void => {
      // 64 MiB would be sent if the server read it all; it answers after 64 KiB.
      while (sent < LIMIT && !req.destroyed) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  t.ok(sent < LIMIT, `the server stopped reading after ${sent} bytes`);
  if (answer.error !== undefined) {
    t.match(answer.error, /^(EPIPE|ECONNRESET)$/, 'the connection was closed on the writer');
    return;
  }
  t.same(conformance('POST', '/v1/messages', answer), [], 'conforms to the OpenAPI document');
  t.equal(answer.status, 413);
  t.match(JSON.parse(answer.body), { error: { code: 'TOO_LARGE' } });
});
