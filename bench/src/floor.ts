/**
 * The floor (`npm run bench:floor`): what a Node process pays per message, at the least, for
 * the steps every wsq message takes, measured beside what nats-server pays for its whole pipe.
 *
 * A message crosses three wsq processes, so it is read from a TLS socket three times and
 * written to one three times (client → publisher → msgqueue → subscriber → client). Each
 * Node step runs in a child process (floor-server.ts) of its own, alone with one client in
 * this process, so its CPU time is that step's and nothing else's. No wsq code runs: this is
 * what any three-process design in Node pays before it does its job, the bound that
 * docs/performance.md compares the targets of `pipe` and `topics` against.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { generateCerts, type GeneratedCerts } from '@wsq/core';
import { processCpuSeconds } from './cpu.js';
import {
  FLOOR_FRAMES_PER_WRITE,
  FLOOR_ONE_PER_WRITE_MAX,
  FLOOR_STEPS,
  FLOOR_PAYLOAD,
  floorFrames,
  type FloorRequest,
  type FloorServerReply,
  type FloorStep,
} from './floor-wire.js';
import { openNatsPublisher, openNatsSubscriber } from './nats-client.js';
import { natsEndpoint, startNatsServer } from './nats.js';
import { openSocket } from './transport.js';

export const FLOOR_DESCRIPTIONS: Readonly<Record<FloorStep | 'nats-server' | 'floor', string>> = {
  'ws-receive': 'Node + ws: read 64-byte text frames (what the publisher does first)',
  'tls-receive': 'Node: read the same bytes, TLS only, no WebSocket parsing',
  'tls-send': `Node: write pre-built frames, ${FLOOR_FRAMES_PER_WRITE} to a write`,
  'tls-send-one': 'Node: write one frame a write, a write an event-loop turn (a delivery in topics)',
  'nats-server': "nats-server's whole pipe: read, route and write each message",
  floor: 'three Node processes, transport only: 3 × (tls-receive + tls-send)',
};

export interface FloorRow {
  step: keyof typeof FLOOR_DESCRIPTIONS;
  cpuMicrosPerMessage: number;
}

/** Client sends in rounds of this many frames and waits for the round to be written. */
const SEND_ROUND = 4096;

/**
 * Sends `messages` frames with `send`, in rounds of SEND_ROUND whose last frame's callback is
 * awaited, so the client never holds more than a round unsent.
 */
async function sendInRounds(messages: number, send: (cb?: (err?: Error) => void) => void): Promise<void> {
  for (let sent = 0; sent < messages;) {
    const n = Math.min(SEND_ROUND, messages - sent);
    for (let i = 1; i < n; i++) send();
    await new Promise<void>((resolve, reject) => send((err) => (err ? reject(err) : resolve())));
    sent += n;
  }
}

function nextReply(child: ChildProcess): Promise<FloorServerReply> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`floor server exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (msg: FloorServerReply) => {
      child.off('exit', onExit);
      resolve(msg);
    });
  });
}

function tlsClient(port: number, certs: GeneratedCerts): Promise<TLSSocket> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: certs.caCert });
  return once(socket, 'secureConnect').then(() => socket);
}

async function writeAll(socket: TLSSocket, block: Buffer, frames: number): Promise<void> {
  const frameBytes = block.length / FLOOR_FRAMES_PER_WRITE;
  for (let sent = 0; sent < frames; sent += FLOOR_FRAMES_PER_WRITE) {
    const n = Math.min(FLOOR_FRAMES_PER_WRITE, frames - sent);
    if (!socket.write(block.subarray(0, n * frameBytes))) await once(socket, 'drain');
  }
}

/** This process's half of each step: the client that feeds the child, or drains it. */
const CLIENTS: Readonly<Record<FloorStep, (port: number, messages: number, certs: GeneratedCerts) => Promise<void>>> = {
  async 'ws-receive'(port, messages, certs) {
    const ws = await openSocket(`wss://127.0.0.1:${port}/`, [], { ca: certs.caCert });
    await sendInRounds(messages, (cb) => ws.send(FLOOR_PAYLOAD, cb));
    ws.terminate();
  },
  async 'tls-receive'(port, messages, certs) {
    const socket = await tlsClient(port, certs);
    await writeAll(socket, floorFrames(FLOOR_FRAMES_PER_WRITE, true), messages);
    socket.end();
    await once(socket, 'close');
  },
  async 'tls-send'(port, messages, certs) {
    const socket = await tlsClient(port, certs);
    const total = floorFrames(1, false).length * messages;
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes === total) resolve();
      });
    });
    // Tells the child its last frame arrived; it reports its CPU on this byte and ends its side.
    socket.end('.');
    await once(socket, 'close');
  },
  'tls-send-one'(port, messages, certs) {
    return CLIENTS['tls-send'](port, messages, certs);
  },
};

async function measureStep(step: FloorStep, messages: number, certs: GeneratedCerts): Promise<number> {
  const child = fork(fileURLToPath(new URL('./floor-server.js', import.meta.url)), [], {
    stdio: 'inherit',
    // A plain Node: no loaders or flags of the parent (a test runner's, a profiler's) in what is measured.
    execArgv: [],
  });
  try {
    const ready = nextReply(child);
    const req: FloorRequest = { step, messages, cert: certs.cert, key: certs.key };
    child.send(req);
    const port = await ready;
    if (port.kind !== 'port') throw new Error(`floor server: expected its port, got ${port.kind}`);
    const cpu = nextReply(child);
    await CLIENTS[step](port.port, messages, certs);
    const reply = await cpu;
    if (reply.kind !== 'cpu') throw new Error(`floor server: expected its CPU, got ${reply.kind}`);
    return reply.cpuMicrosPerMessage;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.send('exit');
      await exited;
    }
  }
}

/** nats-server's CPU per message for a whole one-publisher, one-subscriber pipe. */
async function measureNats(binary: string, messages: number): Promise<number> {
  const nats = await startNatsServer(binary);
  try {
    const ep = natsEndpoint(nats);
    let delivered = 0;
    let allDelivered!: () => void;
    let failed!: (err: Error) => void;
    const done = new Promise<void>((resolve, reject) => ((allDelivered = resolve), (failed = reject)));
    const closed = (code: number): void => {
      if (delivered < messages) failed(new Error(`nats socket closed (${code}) after ${delivered} messages`));
    };
    const sub = await openNatsSubscriber(ep, () => ++delivered === messages && allDelivered(), closed);
    await sub.subscribe('t');
    const pub = await openNatsPublisher(ep, closed);
    const before = processCpuSeconds(nats.pid);
    await sendInRounds(messages, (cb) => pub.publish('t', FLOOR_PAYLOAD, cb));
    await done;
    const after = processCpuSeconds(nats.pid);
    pub.close();
    sub.close();
    if (before === undefined || after === undefined) throw new Error('nats-server CPU time is unreadable (no /proc?)');
    return ((after - before) * 1e6) / messages;
  } finally {
    await nats.stop();
  }
}

/**
 * Measures each step with `messages` messages; with `natsBinary`, nats-server's pipe too. Its
 * CPU comes from /proc in 10 ms ticks, so it wants a few hundred thousand messages to be exact.
 */
export async function measureFloor(opts: { messages: number; natsBinary?: string | undefined }): Promise<FloorRow[]> {
  const certs = await generateCerts(2);
  const rows: FloorRow[] = [];
  const byStep = new Map<string, number>();
  for (const step of FLOOR_STEPS) {
    const messages = step === 'tls-send-one' ? Math.min(opts.messages, FLOOR_ONE_PER_WRITE_MAX) : opts.messages;
    const cpu = await measureStep(step, messages, certs);
    byStep.set(step, cpu);
    rows.push({ step, cpuMicrosPerMessage: cpu });
  }
  if (opts.natsBinary !== undefined) {
    rows.push({ step: 'nats-server', cpuMicrosPerMessage: await measureNats(opts.natsBinary, opts.messages) });
  }
  rows.push({ step: 'floor', cpuMicrosPerMessage: 3 * (byStep.get('tls-receive')! + byStep.get('tls-send')!) });
  return rows;
}

export function formatFloor(rows: readonly FloorRow[], messages: number): string {
  const width = Math.max(...rows.map((r) => r.step.length));
  const lines = rows.map(
    (r) => `${r.step.padEnd(width)}  ${r.cpuMicrosPerMessage.toFixed(2).padStart(6)} µs  ${FLOOR_DESCRIPTIONS[r.step]}`,
  );
  return [`CPU per message, ${messages.toLocaleString('en-US')} messages of 64 bytes over TLS:`, ...lines, ''].join(
    '\n',
  );
}
