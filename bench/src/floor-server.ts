/**
 * The server half of one floor step (floor.ts), run as a child process so that its CPU time is
 * its own. The parent sends the step and the TLS material over IPC; this process answers with
 * its port, then with the CPU it spent from the first byte of the step to its last.
 *
 * - `ws-receive`: an HTTPS server with the ws library takes text frames, as the publisher does.
 * - `tls-receive`: a TLS server reads the same bytes and does nothing else with them.
 * - `tls-send`: a TLS server writes pre-built frames, FLOOR_FRAMES_PER_WRITE to a write.
 * - `tls-send-one`: the same, one frame to a write and one write per event-loop turn, as a
 *   subscriber writes when each message goes to a socket of its own (`topics`).
 */
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo, Server } from 'node:net';
import { WebSocketServer } from 'ws';
import { FLOOR_FRAMES_PER_WRITE, floorFrames, type FloorRequest, type FloorServerReply } from './floor-wire.js';

function reply(msg: FloorServerReply): void {
  process.send?.(msg);
}

/** Reports the CPU spent since `start`, per message. */
function finish(start: NodeJS.CpuUsage, messages: number): void {
  const { user, system } = process.cpuUsage(start);
  reply({ kind: 'cpu', cpuMicrosPerMessage: (user + system) / messages });
}

function wsReceive(req: FloorRequest): Server {
  const server = createHttpsServer({ cert: req.cert, key: req.key });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });
  wss.on('connection', (ws) => {
    let start: NodeJS.CpuUsage | undefined;
    let seen = 0;
    ws.on('message', () => {
      start ??= process.cpuUsage();
      if (++seen === req.messages) finish(start, req.messages);
    });
  });
  return server;
}

function tlsReceive(req: FloorRequest): Server {
  const total = floorFrames(1, true).length * req.messages;
  return createTlsServer({ cert: req.cert, key: req.key }, (socket) => {
    let start: NodeJS.CpuUsage | undefined;
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      start ??= process.cpuUsage();
      bytes += chunk.length;
      if (bytes === total) finish(start, req.messages);
    });
  });
}

function tlsSend(req: FloorRequest): Server {
  const block = floorFrames(FLOOR_FRAMES_PER_WRITE, false);
  const frameBytes = block.length / FLOOR_FRAMES_PER_WRITE;
  return createTlsServer({ cert: req.cert, key: req.key }, (socket: TLSSocket) => {
    const start = process.cpuUsage();
    let sent = 0;
    const pump = (): void => {
      while (sent < req.messages) {
        const n = Math.min(FLOOR_FRAMES_PER_WRITE, req.messages - sent);
        sent += n;
        if (!socket.write(block.subarray(0, n * frameBytes))) return void socket.once('drain', pump);
      }
    };
    // The client says when the last byte has arrived; the CPU up to then is the step's.
    socket.once('data', () => {
      finish(start, req.messages);
      socket.end();
    });
    pump();
  });
}

function tlsSendOne(req: FloorRequest): Server {
  const frame = floorFrames(1, false);
  return createTlsServer({ cert: req.cert, key: req.key }, (socket: TLSSocket) => {
    const start = process.cpuUsage();
    let sent = 0;
    const next = (): void => {
      if (sent === req.messages) return;
      sent++;
      if (socket.write(frame)) setImmediate(next);
      else socket.once('drain', next);
    };
    socket.once('data', () => {
      finish(start, req.messages);
      socket.end();
    });
    next();
  });
}

const STEPS = { 'ws-receive': wsReceive, 'tls-receive': tlsReceive, 'tls-send': tlsSend, 'tls-send-one': tlsSendOne };

process.once('message', (req: FloorRequest) => {
  const server = STEPS[req.step](req);
  server.listen(0, '127.0.0.1', () => reply({ kind: 'port', port: (server.address() as AddressInfo).port }));
  process.once('message', () => process.exit(0));
});
