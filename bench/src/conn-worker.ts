/**
 * A client process of the connections scenario: opens its share of idle subscriptions (each
 * from its source address, a bounded number of handshakes at a time), says when all are
 * subscribed, then reports, per broadcast message, when the last of its connections got it.
 * A process, not a thread: each holds one descriptor per connection under its own limit.
 */
import { openSubscriber } from './clients.js';
import type { ConnMainToWorker, ConnWorkerSetup, ConnWorkerToMain } from './conn-worker-protocol.js';
import { runPool } from './load.js';
import { newStamp, nowMs, parseStamp } from './payload.js';
import type { SubscriberConn } from './transport.js';

/** Reports to the scenario; nothing once it is gone (the process then ends: see 'disconnect'). */
const send = (msg: ConnWorkerToMain): void => {
  if (process.connected) process.send?.(msg);
};

async function run(setup: ConnWorkerSetup): Promise<() => void> {
  const conns: SubscriberConn[] = [];
  const got = new Map<number, number>();
  const stamp = newStamp();
  let closing = false;
  let closedByServer = 0;
  const onDelivery = (frame: Buffer, start: number, end: number): void => {
    const s = parseStamp(frame, stamp, start, end);
    if (s.kind !== 'msg') return;
    const n = (got.get(s.index) ?? 0) + 1;
    got.set(s.index, n);
    if (n === setup.connections) send({ type: 'delivered', index: s.index, lastAtMs: nowMs() });
  };
  const onClose = (code: number): void => {
    if (closing) return;
    closedByServer++;
    send({ type: 'closed', total: closedByServer, code });
  };
  const slots = Array.from({ length: setup.connections }, (_, i) => i);
  const firstAtMs = nowMs();
  const timer = setInterval(() => send({ type: 'progress', connected: conns.length }), setup.progressIntervalMs);
  try {
    await runPool(slots, setup.concurrency, async (i) => {
      const localAddress = setup.sourceAddresses[i % setup.sourceAddresses.length];
      const conn = await openSubscriber({ ...setup.endpoint, localAddress }, onDelivery, onClose);
      conns.push(conn);
      await conn.subscribe(setup.topic);
    });
  } finally {
    clearInterval(timer);
  }
  send({ type: 'ready', connected: conns.length, firstAtMs, lastAtMs: nowMs(), closedByServer });
  return () => {
    closing = true;
    for (const c of conns) c.close();
  };
}

let close: (() => void) | undefined;
// Never outlive the scenario: when it ends or dies, close every socket and end.
process.on('disconnect', () => {
  close?.();
  setTimeout(() => process.exit(0), 2000).unref();
});
process.on('message', (msg: ConnMainToWorker) => {
  if (msg.type === 'setup') {
    run(msg.setup).then(
      (c) => (close = c),
      (err: unknown) => {
        send({ type: 'failed', message: String((err as Error)?.message ?? err) });
        process.exitCode = 1;
        process.disconnect?.();
      },
    );
  } else {
    close?.();
    // The sockets' close handshakes go out, then the process ends with its event loop.
    process.disconnect?.();
    setTimeout(() => process.exit(0), 2000).unref();
  }
});
