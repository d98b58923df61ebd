/**
 * A minimal NATS client over a WebSocket (nats-server's `websocket` listener): the NATS text
 * protocol in binary WS frames, parsed as a byte stream by NatsParser. CONNECT + PING, then
 * PONG means connected; SUB + PING, then PONG means the server has the subscription. Server
 * PINGs are answered. One PUB per frame, as a wsq client sends one message per frame.
 */
import type { WebSocket } from 'ws';
import { NatsParser, natsConnect, natsPub, natsSub, type NatsEvent } from './nats-parser.js';
import {
  openSocket,
  wsOptions,
  type CloseHandler,
  type DeliveryHandler,
  type Endpoint,
  type PublisherConn,
  type SubscriberConn,
} from './transport.js';

interface NatsConn {
  ws: WebSocket;
  /** Resolves at the next PONG (FIFO: the server answers PINGs in order). */
  ping(): Promise<void>;
  errors(): number;
}

const BINARY = { binary: true } as const;

async function openNats(
  url: string,
  ep: Endpoint,
  onMsg: DeliveryHandler | undefined,
  onClose: CloseHandler,
): Promise<NatsConn> {
  const ws = await openSocket(url, [], wsOptions(ep, false));
  const pongs: { resolve(): void; reject(err: Error): void }[] = [];
  let errors = 0;
  let connected = false;
  const onEvent = (ev: NatsEvent): void => {
    switch (ev.op) {
      case 'MSG':
        return onMsg?.(ev.payload);
      case 'PING':
        return void ws.send('PONG\r\n', BINARY);
      case 'PONG':
        return pongs.shift()?.resolve();
      case '-ERR':
        errors++;
        // Errors before the first PONG (bad auth) fail the connect; later ones are counted.
        if (pongs.length > 0 && !connected) pongs.shift()?.reject(new Error(`nats: ${ev.message}`));
        return;
      case 'INFO':
      case '+OK':
        return;
    }
  };
  const parser = new NatsParser(onEvent, false);
  ws.on('message', (data: Buffer) => {
    try {
      parser.feed(data);
    } catch (err) {
      ws.terminate();
      for (const p of pongs.splice(0)) p.reject(err as Error);
    }
  });
  ws.on('close', (code: number) => {
    for (const p of pongs.splice(0)) p.reject(new Error(`nats socket closed (${code})`));
    onClose(code);
  });
  ws.on('error', () => undefined);
  const ping = (): Promise<void> =>
    new Promise((resolve, reject) => {
      pongs.push({ resolve, reject });
      ws.send('PING\r\n', BINARY);
    });
  await new Promise<void>((resolve, reject) => {
    pongs.push({ resolve, reject });
    ws.send(natsConnect(ep.user, ep.password), BINARY);
  });
  connected = true;
  return { ws, ping, errors: () => errors };
}

function closeSocket(ws: WebSocket): void {
  if (ws.readyState === ws.OPEN) ws.close(1000);
  else ws.terminate();
}

export async function openNatsSubscriber(
  ep: Endpoint,
  onDelivery: DeliveryHandler,
  onClose: CloseHandler,
): Promise<SubscriberConn> {
  const conn = await openNats(ep.subscribeUrl, ep, onDelivery, onClose);
  let sid = 0;
  return {
    async subscribe(topic) {
      conn.ws.send(natsSub(topic, String(++sid)), BINARY);
      await conn.ping();
      return { confirmed: true };
    },
    close: () => closeSocket(conn.ws),
  };
}

export async function openNatsPublisher(ep: Endpoint, onClose: CloseHandler): Promise<PublisherConn> {
  const conn = await openNats(ep.publishUrl, ep, undefined, onClose);
  const { ws } = conn;
  return {
    publish(topic, payload, cb) {
      ws.send(natsPub(topic, payload), BINARY, cb);
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    acked: 0,
    get refused() {
      return conn.errors();
    },
    close: () => closeSocket(ws),
  };
}
