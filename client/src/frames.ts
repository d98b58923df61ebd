/**
 * The wsq.v1 frames the client sends and receives (docs/protocol.md section 2). Pure: text in,
 * a typed frame out (or a WsqError PROTOCOL), no sockets.
 */
import { isServerCode, WsqError, type ServerCode } from './errors.js';

export const V1_PROTOCOL = 'wsq.v1';
export const MAX_ID_LENGTH = 128;

export type ServerFrame =
  | { op: 'ack'; id: string; seq: number }
  | { op: 'subscribed'; id?: string; topic: string; seq: number; recovered: boolean }
  | { op: 'unsubscribed'; id?: string; topic: string }
  | { op: 'msg'; topic: string; seq: number; data: unknown; ts: number }
  | { op: 'error'; id?: string; code: ServerCode; message: string };

export function encodePub(topic: string, data: unknown, id: string): string {
  const json = JSON.stringify(data);
  if (json === undefined) throw new WsqError('BAD_ARGUMENT', 'data must be a JSON value (not undefined or a function)');
  return `{"op":"pub","topic":${JSON.stringify(topic)},"data":${json},"id":${JSON.stringify(id)}}`;
}

export function encodeSub(topic: string, id: string, since: number | undefined): string {
  return JSON.stringify(since === undefined ? { op: 'sub', topic, id } : { op: 'sub', topic, id, since });
}

export function encodeUnsub(topic: string, id: string): string {
  return JSON.stringify({ op: 'unsub', topic, id });
}

function bad(why: string): WsqError {
  return new WsqError('PROTOCOL', `not a wsq.v1 server frame: ${why}`);
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw bad(`${key} must be a string`);
  return v;
}

function optId(o: Record<string, unknown>): { id?: string } {
  if (o.id === undefined) return {};
  return { id: str(o, 'id') };
}

function seq(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (!isSeq(v)) throw bad(`${key} must be a non-negative integer`);
  return v;
}

export function decodeServerFrame(text: string): ServerFrame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('invalid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('not a JSON object');
  const o = parsed as Record<string, unknown>;
  switch (o.op) {
    case 'ack':
      return { op: 'ack', id: str(o, 'id'), seq: seq(o, 'seq') };
    case 'subscribed':
      if (o.recovered !== undefined && typeof o.recovered !== 'boolean') throw bad('recovered must be a boolean');
      return {
        op: 'subscribed',
        ...optId(o),
        topic: str(o, 'topic'),
        seq: seq(o, 'seq'),
        recovered: o.recovered !== false,
      };
    case 'unsubscribed':
      return { op: 'unsubscribed', ...optId(o), topic: str(o, 'topic') };
    case 'msg':
      if (!('data' in o)) throw bad('msg without data');
      return { op: 'msg', topic: str(o, 'topic'), seq: seq(o, 'seq'), data: o.data, ts: seq(o, 'ts') };
    case 'error': {
      const code = o.code;
      if (!isServerCode(code)) throw bad(`unknown error code ${JSON.stringify(code)}`);
      return { op: 'error', ...optId(o), code, message: str(o, 'message') };
    }
    default:
      throw bad(`unknown op ${JSON.stringify(o.op)}`);
  }
}
