/**
 * wsq connections for the bench: legacy (ws-go's `{"Topic","Content"}` frames, no acks) and
 * `wsq.v1` (`{"op":"pub"}` / `{"op":"sub"}` with a `subscribed` answer). The payload is sent as
 * a JSON string (legacy Content / v1 data) and found again by the receiver without parsing.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import {
  openSocket,
  wsOptions,
  type CloseHandler,
  type DeliveryHandler,
  type Endpoint,
  type PublisherConn,
  type PublishSetup,
  type SubscriberConn,
  AnswerClock,
  batchSender,
} from './transport.js';
import type { FrameKind } from './frames.js';
import { nowMs } from './payload.js';

/**
 * Core's V1_PROTOCOL and legacy/v1 frame shapes, restated: this module runs in every worker
 * thread, and importing @wsq/core there costs most of a second per worker (TLS generation
 * and logging libraries). test/payload.test.ts keeps these in step with core's codecs.
 */
export const V1_SUBPROTOCOL = 'wsq.v1';

/** Legacy frame; `s` needs no JSON escaping beyond what JSON.stringify does. */
function legacyFrame(topic: string, content: string): string {
  return `{"Topic":${JSON.stringify(topic)},"Content":${JSON.stringify(content)}}`;
}

/** The v1 control frames a subscriber waits for (deliveries never reach this). */
type V1Control =
  | { op: 'subscribed'; id?: string }
  | { op: 'error'; id?: string; code: string; message: string }
  | { op: 'ack' | 'unsubscribed' | 'msg' };

function decodeControl(text: string): V1Control | undefined {
  try {
    const obj = JSON.parse(text) as unknown;
    return obj !== null && typeof obj === 'object' && 'op' in obj ? (obj as V1Control) : undefined;
  } catch {
    return undefined;
  }
}

const MSG_PREFIX = Buffer.from('{"op":"msg"');

/** Whether a v1 frame is a delivery: a byte loop, no subarray and native compare per frame. */
function isDelivery(data: Buffer): boolean {
  if (data.length < MSG_PREFIX.length) return false;
  for (let i = 0; i < MSG_PREFIX.length; i++) if (data[i] !== MSG_PREFIX[i]) return false;
  return true;
}

function protocolsOf(ep: Endpoint): string[] {
  return ep.system === 'wsq-v1' ? [V1_SUBPROTOCOL] : [];
}

/**
 * A publish frame. Neither the bench's topic names nor its payloads hold a character JSON
 * escapes, so both are spliced in, for either protocol (two JSON.stringify calls per message
 * were bench CPU taken from the services on the same cores).
 */
export function encodeWsqPublish(system: Endpoint['system'], topic: string, payload: string, id?: string): string {
  if (system !== 'wsq-v1') return `{"Topic":"${topic}","Content":"${payload}"}`;
  return id === undefined
    ? `{"op":"pub","topic":"${topic}","data":"${payload}"}`
    : `{"op":"pub","topic":"${topic}","data":"${payload}","id":"${id}"}`;
}

export function encodeWsqSubscribe(system: Endpoint['system'], topic: string, id: string): string {
  return system === 'wsq-v1' ? JSON.stringify({ op: 'sub', topic, id }) : legacyFrame(topic, 'sub');
}

interface Waiter {
  resolve(v: { confirmed: boolean }): void;
  reject(err: Error): void;
}

export async function openWsqSubscriber(
  ep: Endpoint,
  onDelivery: DeliveryHandler,
  onClose: CloseHandler,
): Promise<SubscriberConn> {
  const ws = await openSocket(ep.subscribeUrl, protocolsOf(ep), wsOptions(ep, true));
  const waiters = new Map<string, Waiter>();
  let nextId = 0;
  const failAll = (err: Error): void => {
    for (const w of waiters.values()) w.reject(err);
    waiters.clear();
  };
  ws.on('message', (data: Buffer) => {
    // Legacy frames are all deliveries; v1 deliveries start `{"op":"msg"` (core's encodeMsg).
    if (ep.system !== 'wsq-v1' || isDelivery(data)) return onDelivery(data, 0, data.length);
    const frame = decodeControl(data.toString());
    switch (frame?.op) {
      case 'subscribed':
      case 'error': {
        const w = frame.id === undefined ? undefined : waiters.get(frame.id);
        if (!w || frame.id === undefined) return;
        waiters.delete(frame.id);
        if (frame.op === 'subscribed') w.resolve({ confirmed: true });
        else
          w.reject(Object.assign(new Error(`subscribe refused: ${frame.code} ${frame.message}`), { code: frame.code }));
        return;
      }
      case 'msg':
        return onDelivery(data, 0, data.length);
      default:
        return;
    }
  });
  ws.on('close', (code: number) => {
    failAll(new Error(`subscriber socket closed (${code})`));
    onClose(code);
  });
  ws.on('error', () => undefined);
  return {
    subscribe(topic) {
      const id = `s${nextId++}`;
      const frame = encodeWsqSubscribe(ep.system, topic, id);
      if (ep.system !== 'wsq-v1') {
        return new Promise((resolve, reject) =>
          ws.send(frame, (err) => (err ? reject(err) : resolve({ confirmed: false }))),
        );
      }
      return new Promise((resolve, reject) => {
        waiters.set(id, { resolve, reject });
        ws.send(frame);
      });
    },
    close: () => closeSocket(ws),
  };
}

const ACK_PREFIX = Buffer.from('{"op":"ack"');

export async function openWsqPublisher(
  ep: Endpoint,
  onClose: CloseHandler,
  setup?: PublishSetup,
): Promise<PublisherConn> {
  const ws = await openSocket(ep.publishUrl, protocolsOf(ep), wsOptions(ep, true));
  // v1 refusals (RATE_LIMITED, UNAVAILABLE…) come back as error frames; legacy ones are silent.
  let refused = 0;
  let acked = 0;
  const onAnswer = setup?.onAnswer;
  const clock = new AnswerClock();
  ws.on('message', (data: Buffer) => {
    // core's encodeAck starts every ack `{"op":"ack"`: a prefix test, no scan per ack.
    if (startsWith(data, ACK_PREFIX)) acked++;
    else if (data.includes('"op":"error"')) refused++;
    else return;
    onAnswer?.(clock.answered(nowMs()));
  });
  ws.on('close', onClose);
  ws.on('error', () => undefined);
  const system = ep.system;
  // With acks, ids unique to this connection: the msgqueue dedupes a repeated id of the same
  // user for minutes, and every run and warm-up publishes as the same user.
  const idPrefix = ep.acks === true && system === 'wsq-v1' ? `${randomBytes(6).toString('base64url')}.` : undefined;
  let nextId = 0;
  const kind: FrameKind = system === 'wsq-v1' ? { kind: 'wsq-v1', idPrefix } : { kind: 'wsq-legacy' };
  const sendBatch = batchSender(ws, kind, setup, nowMs, clock);
  return {
    publish(topic, payload, cb) {
      const id = idPrefix === undefined ? undefined : `${idPrefix}p${(nextId++).toString(36)}`;
      ws.send(encodeWsqPublish(system, topic, payload, id), cb);
    },
    sendBatch,
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get refused() {
      return refused;
    },
    get acked() {
      return acked;
    },
    close: () => closeSocket(ws),
  };
}

function startsWith(data: Buffer, prefix: Buffer): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

function closeSocket(ws: WebSocket): void {
  if (ws.readyState === ws.OPEN) ws.close(1000);
  else ws.terminate();
}
