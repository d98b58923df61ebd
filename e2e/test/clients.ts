/** Small v1/legacy clients for the end-to-end tests. */
import { connectWs, FrameReader, type TestTls } from '@wsq/core/testing';
import type { WebSocket } from 'ws';

export interface Client {
  ws: WebSocket;
  reader: FrameReader;
}

export async function connectClient(
  url: string,
  tls: TestTls,
  opts: { user?: string; password?: string; v1?: boolean } = {},
): Promise<Client> {
  const ws = await connectWs(url, {
    ca: tls.ca,
    user: opts.user ?? 'alice',
    password: opts.password ?? 'alice-secret',
    ...(opts.v1 ? { protocol: 'wsq.v1' } : {}),
  });
  return { ws, reader: new FrameReader(ws) };
}

/** Reads frames until one satisfies `match` (skipping others), returning it parsed. */
export async function nextWhere(
  reader: FrameReader,
  match: (f: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (;;) {
    const f = await reader.json();
    if (match(f)) return f;
  }
}
