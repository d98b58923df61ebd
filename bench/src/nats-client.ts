/**
 * A minimal NATS client over a WebSocket (nats-server's `websocket` listener): the NATS text
 * protocol in binary WS frames, parsed as a byte stream by NatsParser. CONNECT + PING, then
 * PONG means connected; SUB + PING, then PONG means the server has the subscription. Server
 * PINGs are answered. One PUB per frame, as a wsq client sends one message per frame.
 *
 * JetStream (`jetstream` endpoints): the publisher sends HPUB with a Nats-Msg-Id header and a
 * reply subject it listens on, and counts the PubAcks; each subscriber creates an ephemeral
 * push consumer (no acks, new messages only) on the bench's file-backed stream, filtered to
 * its topic, and listens on the consumer's deliver subject.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { FrameKind } from './frames.js';
import { NatsParser, natsConnect, natsPub, natsSub, natsUnsub, type NatsEvent } from './nats-parser.js';
import { nowMs } from './payload.js';
import {
  AnswerClock,
  batchSender,
  openSocket,
  wsOptions,
  type CloseHandler,
  type DeliveryHandler,
  type Endpoint,
  type PublisherConn,
  type PublishSetup,
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
  headers = false,
): Promise<NatsConn> {
  const ws = await openSocket(url, [], wsOptions(ep, false));
  const pongs: { resolve(): void; reject(err: Error): void }[] = [];
  let errors = 0;
  let connected = false;
  const onEvent = (ev: NatsEvent): void => {
    switch (ev.op) {
      case 'MSG':
        return onMsg?.(ev.payload, 0, ev.payload.length);
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
  const parser = new NatsParser(onEvent, false, onMsg);
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
    ws.send(natsConnect(ep.user, ep.password, headers), BINARY);
  });
  connected = true;
  return { ws, ping, errors: () => errors };
}

function closeSocket(ws: WebSocket): void {
  if (ws.readyState === ws.OPEN) ws.close(1000);
  else ws.terminate();
}

/** A JetStream API reply that is an error (it has an `"error"` member), as text. */
function apiError(reply: Buffer): string | undefined {
  const text = reply.toString();
  return text.includes('"error"') ? text : undefined;
}

const ERROR_KEY = Buffer.from('"error"');

/**
 * Whether data[start, end) holds `needle`. Bounded to the range: indexOf from `start` would scan
 * the rest of a chunk of thousands of PubAcks for every one of them.
 */
export function holds(data: Buffer, start: number, end: number, needle: Buffer): boolean {
  const first = needle[0];
  const last = end - needle.length;
  outer: for (let i = start; i <= last; i++) {
    if (data[i] !== first) continue;
    for (let k = 1; k < needle.length; k++) if (data[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

function inboxPrefix(): string {
  return `_INBOX.${randomBytes(8).toString('hex')}`;
}

export async function openNatsSubscriber(
  ep: Endpoint,
  onDelivery: DeliveryHandler,
  onClose: CloseHandler,
): Promise<SubscriberConn> {
  // A JetStream subscriber's first MSG answers its consumer request; deliveries come after.
  let reply: ((payload: Buffer) => void) | undefined;
  const onMsg = (data: Buffer, start: number, end: number): void => {
    if (reply === undefined) return onDelivery(data, start, end);
    const r = reply;
    reply = undefined;
    r(Buffer.from(data.subarray(start, end)));
  };
  const conn = await openNats(ep.subscribeUrl, ep, onMsg, onClose);
  const inbox = inboxPrefix();
  let sid = 0;
  return {
    async subscribe(topic) {
      const id = String(++sid);
      if (ep.system !== 'jetstream') {
        conn.ws.send(natsSub(topic, id), BINARY);
        await conn.ping();
        return { confirmed: true };
      }
      const deliver = `${inbox}.d${id}`;
      const answer = new Promise<Buffer>((resolve) => (reply = resolve));
      conn.ws.send(natsSub(`${inbox}.r${id}`, `r${id}`), BINARY);
      conn.ws.send(
        natsPub(`$JS.API.CONSUMER.CREATE.${ep.stream}`, consumerRequest(ep.stream!, topic, deliver), `${inbox}.r${id}`),
        BINARY,
      );
      const refused = apiError(await answer);
      if (refused) throw new Error(`jetstream consumer refused: ${refused}`);
      conn.ws.send(natsUnsub(`r${id}`) + natsSub(deliver, id), BINARY);
      await conn.ping();
      return { confirmed: true };
    },
    close: () => closeSocket(conn.ws),
  };
}

/** An ephemeral push consumer: new messages of `topic`, no acks, delivered to `deliver`. */
export function consumerRequest(stream: string, topic: string, deliver: string): string {
  return JSON.stringify({
    stream_name: stream,
    config: {
      deliver_subject: deliver,
      deliver_policy: 'new',
      ack_policy: 'none',
      replay_policy: 'instant',
      filter_subject: topic,
    },
  });
}

export async function openNatsPublisher(
  ep: Endpoint,
  onClose: CloseHandler,
  setup?: PublishSetup,
): Promise<PublisherConn> {
  const jetstream = ep.system === 'jetstream';
  let acked = 0;
  let ackErrors = 0;
  const onAnswer = setup?.onAnswer;
  const clock = new AnswerClock();
  // A JetStream publisher's MSGs are its PubAcks: `{"stream":…,"seq":…}`, or with an `"error"`.
  const onAck = (data: Buffer, start: number, end: number): void => {
    if (holds(data, start, end, ERROR_KEY)) ackErrors++;
    else acked++;
    onAnswer?.(clock.answered(nowMs()));
  };
  const conn = await openNats(ep.publishUrl, ep, jetstream ? onAck : undefined, onClose, jetstream);
  const { ws } = conn;
  const replyTo = `${inboxPrefix()}.ack`;
  if (jetstream) {
    ws.send(natsSub(replyTo, '1'), BINARY);
    await conn.ping();
  }
  const kind: FrameKind = jetstream
    ? { kind: 'jetstream', replyTo, idPrefix: `${randomBytes(6).toString('base64url')}.` }
    : { kind: 'nats' };
  const sendBatch = batchSender(ws, kind, setup, nowMs, clock);
  return {
    publish(topic, payload, cb) {
      ws.send(natsPub(topic, payload, jetstream ? replyTo : undefined), BINARY, cb);
    },
    sendBatch,
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get acked() {
      return acked;
    },
    get refused() {
      return conn.errors() + ackErrors;
    },
    close: () => closeSocket(ws),
  };
}

/** One request on a connection of its own (the bench's JetStream set-up): the reply's text. */
export async function natsRequest(ep: Endpoint, subject: string, body: string, timeoutMs = 10_000): Promise<string> {
  let resolveReply!: (b: Buffer) => void;
  const reply = new Promise<Buffer>((resolve) => (resolveReply = resolve));
  const conn = await openNats(
    ep.publishUrl,
    ep,
    (d, start, end) => resolveReply(Buffer.from(d.subarray(start, end))),
    () => undefined,
  );
  try {
    const inbox = `${inboxPrefix()}.req`;
    conn.ws.send(natsSub(inbox, '1'), BINARY);
    await conn.ping();
    conn.ws.send(natsPub(subject, body, inbox), BINARY);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nats: no reply to ${subject} in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([reply, timeout])).toString();
    } finally {
      clearTimeout(timer);
    }
  } finally {
    closeSocket(conn.ws);
  }
}
