/**
 * The server side of the NATS text protocol, as a byte-stream parser: WebSocket frames may
 * carry several protocol messages, and one message (its control line or its payload) may span
 * frames, so bytes are fed as they come and events come out when complete. Knows nothing of
 * sockets (the NATS client in nats.ts feeds it).
 */

export type NatsEvent =
  | { op: 'MSG'; subject: string; sid: string; reply: string | undefined; payload: Buffer }
  | { op: 'INFO'; info: Record<string, unknown> }
  | { op: 'PING' }
  | { op: 'PONG' }
  | { op: '+OK' }
  | { op: '-ERR'; message: string };

export const NATS_PARSER_ERRORS = ['NATS_BAD_LINE', 'NATS_BAD_OP', 'NATS_LINE_TOO_LONG', 'NATS_BAD_PAYLOAD'] as const;
export type NatsParserErrorCode = (typeof NATS_PARSER_ERRORS)[number];

export class NatsParserError extends Error {
  constructor(
    readonly code: NatsParserErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'NatsParserError';
  }
}

/** A control line longer than this without CRLF is a broken stream (nats-server's own limit is 4 KiB). */
export const MAX_CONTROL_LINE_BYTES = 64 * 1024;

/** A MSG claiming a larger payload is a broken stream (nats-server's max_payload tops out at 64 MiB). */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);
const CR = 0x0d;
const LF = 0x0a;

const SPACE = 0x20;
const TAB = 0x09;

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** `MSG ` in any case (the protocol's operations are case-insensitive). */
function isMsg(data: Buffer, pos: number): boolean {
  return (
    (data[pos] | 0x20) === 0x6d &&
    (data[pos + 1] | 0x20) === 0x73 &&
    (data[pos + 2] | 0x20) === 0x67 &&
    isSpace(data[pos + 3])
  );
}

/** `HMSG ` in any case: a message with headers (a JetStream stream's message keeps its Nats-Msg-Id). */
function isHmsg(data: Buffer, pos: number): boolean {
  return (data[pos] | 0x20) === 0x68 && isMsg(data, pos + 1);
}

interface PendingMsg {
  subject: string;
  sid: string;
  reply: string | undefined;
  size: number;
  /** Header bytes at the start of `size` (HMSG), skipped: events carry the payload only. */
  headerBytes: number;
}

export class NatsParser {
  private rest: Buffer = EMPTY;
  private pending: PendingMsg | undefined;

  /**
   * @param names false: MSG events carry empty subject/sid/reply (a receiver that only wants
   *   payloads saves building three strings per message).
   */
  constructor(
    private readonly onEvent: (event: NatsEvent) => void,
    private readonly names = true,
    /**
     * When given, a MSG's payload goes here as `data[start, end)` instead of a MSG event: no
     * event object and no view per message (the bench's receivers take hundreds of thousands a
     * second on one thread).
     */
    private readonly onPayload?: (data: Buffer, start: number, end: number) => void,
  ) {}

  /** Consumes a chunk. Payloads passed to onEvent are views valid only during the call. */
  feed(chunk: Buffer): void {
    const data = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    let pos = 0;
    while (pos < data.length) {
      const msg = this.pending;
      if (msg) {
        if (data.length - pos < msg.size + 2) break;
        const end = pos + msg.size;
        if (data[end] !== CR || data[end + 1] !== LF) {
          throw new NatsParserError('NATS_BAD_PAYLOAD', `payload of ${msg.size} bytes not followed by CRLF`);
        }
        this.pending = undefined;
        if (this.onPayload) {
          this.onPayload(data, pos + msg.headerBytes, end);
          pos = end + 2;
          continue;
        }
        this.onEvent({
          op: 'MSG',
          subject: msg.subject,
          sid: msg.sid,
          reply: msg.reply,
          payload: data.subarray(pos + msg.headerBytes, end),
        });
        pos = end + 2;
        continue;
      }
      const eol = data.indexOf(LF, pos);
      if (eol < 0) {
        if (data.length - pos > MAX_CONTROL_LINE_BYTES) {
          throw new NatsParserError('NATS_LINE_TOO_LONG', `control line over ${MAX_CONTROL_LINE_BYTES} bytes`);
        }
        break;
      }
      if (eol === pos || data[eol - 1] !== CR) throw new NatsParserError('NATS_BAD_LINE', 'control line without CRLF');
      // MSG is nearly all the traffic: read it from the bytes, without building the line.
      if (isMsg(data, pos)) this.pending = this.msgLine(data, pos + 4, eol - 1, false);
      else if (isHmsg(data, pos)) this.pending = this.msgLine(data, pos + 5, eol - 1, true);
      else this.controlLine(data.toString('latin1', pos, eol - 1));
      pos = eol + 1;
    }
    this.rest = pos >= data.length ? EMPTY : Buffer.from(data.subarray(pos));
  }

  /** Bytes held for an incomplete message (bounded by MAX_CONTROL_LINE_BYTES or one payload). */
  get buffered(): number {
    return this.rest.length;
  }

  /**
   * `MSG <subject> <sid> [reply-to] <#bytes>` between start and end (the CR), or with
   * `headers` `HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>`.
   */
  private msgLine(data: Buffer, start: number, end: number, headers: boolean): PendingMsg {
    const fields: number[] = [];
    let i = start;
    while (i < end && fields.length < 10) {
      while (i < end && isSpace(data[i])) i++;
      if (i >= end) break;
      const from = i;
      while (i < end && !isSpace(data[i])) i++;
      fields.push(from, i);
    }
    const n = fields.length / 2 - (headers ? 1 : 0);
    if (n !== 3 && n !== 4)
      throw new NatsParserError('NATS_BAD_LINE', `bad MSG line: ${data.toString('latin1', start, end)}`);
    const number = (k: number): number => {
      let v = 0;
      for (let j = fields[2 * k]; j < fields[2 * k + 1]; j++) {
        const d = data[j] - 0x30;
        if (d < 0 || d > 9 || v > MAX_PAYLOAD_BYTES) {
          throw new NatsParserError('NATS_BAD_LINE', `bad MSG size: ${data.toString('latin1', start, end)}`);
        }
        v = v * 10 + d;
      }
      return v;
    };
    const size = number(fields.length / 2 - 1);
    const headerBytes = headers ? number(n - 1) : 0;
    if (headerBytes > size) throw new NatsParserError('NATS_BAD_LINE', 'HMSG header bytes beyond its size');
    if (!this.names) return { subject: '', sid: '', reply: undefined, size, headerBytes };
    const text = (k: number): string => data.toString('latin1', fields[2 * k], fields[2 * k + 1]);
    return { subject: text(0), sid: text(1), reply: n === 4 ? text(2) : undefined, size, headerBytes };
  }

  private controlLine(line: string): void {
    const space = line.indexOf(' ');
    const op = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const args = space < 0 ? '' : line.slice(space + 1).trim();
    switch (op) {
      case 'PING':
        return this.onEvent({ op: 'PING' });
      case 'PONG':
        return this.onEvent({ op: 'PONG' });
      case '+OK':
        return this.onEvent({ op: '+OK' });
      case '-ERR':
        return this.onEvent({ op: '-ERR', message: args.replace(/^'(.*)'$/, '$1') });
      case 'INFO': {
        let info: unknown;
        try {
          info = JSON.parse(args);
        } catch {
          throw new NatsParserError('NATS_BAD_LINE', 'INFO is not JSON');
        }
        if (info === null || typeof info !== 'object')
          throw new NatsParserError('NATS_BAD_LINE', 'INFO is not an object');
        return this.onEvent({ op: 'INFO', info: info as Record<string, unknown> });
      }
      default:
        throw new NatsParserError('NATS_BAD_OP', `unknown operation ${JSON.stringify(op.slice(0, 16))}`);
    }
  }
}

/** Client → server frames (the few the bench needs). */
export function natsConnect(user?: string, pass?: string, headers = false): string {
  const opts: Record<string, unknown> = {
    verbose: false,
    pedantic: false,
    protocol: 1,
    headers,
    no_responders: false,
    lang: 'wsq-bench',
    version: '0.1.0',
  };
  if (user !== undefined) Object.assign(opts, { user, pass });
  return `CONNECT ${JSON.stringify(opts)}\r\nPING\r\n`;
}

export function natsSub(subject: string, sid: string): string {
  return `SUB ${subject} ${sid}\r\n`;
}

export function natsPub(subject: string, payload: string, replyTo?: string): string {
  const reply = replyTo === undefined ? '' : `${replyTo} `;
  return `PUB ${subject} ${reply}${Buffer.byteLength(payload)}\r\n${payload}\r\n`;
}

export function natsUnsub(sid: string): string {
  return `UNSUB ${sid}\r\n`;
}
