/**
 * The replies of one publishing socket (acks and error frames), gathered as whole WebSocket
 * frames and written to the TLS socket under `ws` once per tick. One `appended` answer from the
 * queue settles up to a batch of messages at once: through `ws.send` each ack cost a header
 * buffer, two socket writes and, uncorked, a TLS write and a system call of its own; with an
 * ack per message that was a fifth of the publisher's time.
 *
 * Frames `ws` writes itself must not overtake replies that were due first. Pings and pongs may
 * (control frames go between whole frames); a close frame may not, so what is gathered is written
 * before the close frame (beforeClose). A socket that is no longer open when the tick
 * ends (it was destroyed) gets nothing.
 */
import { beforeClose, putTextFrameHeader, rawSocketOf, textFrameHeaderBytes, type RawSocket } from '@wsq/core';
import { WebSocket } from 'ws';

/**
 * First size of a tick's buffer (below half of Buffer.poolSize, so it comes from the shared
 * pool); it doubles as replies pile up, and the slow-consumer limit bounds them.
 */
const INITIAL_BYTES = 2048;

export class Replies {
  /** This tick's frames; none between ticks, so an idle connection holds no buffer. */
  private buf: Buffer | undefined;
  private length = 0;
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();

  private constructor(
    private readonly ws: WebSocket,
    private readonly raw: RawSocket,
  ) {
    beforeClose(ws, () => this.flush());
  }

  /** Replies for `ws`, or undefined when frames cannot be written past its sender (see rawSocketOf). */
  static of(ws: WebSocket): Replies | undefined {
    const raw = rawSocketOf(ws);
    return raw === undefined ? undefined : new Replies(ws, raw);
  }

  /** Bytes gathered and not yet handed to the socket (they count as unsent, like bufferedAmount). */
  get pendingBytes(): number {
    return this.length;
  }

  /** Adds one text frame; it leaves with the rest of this tick's. */
  add(text: string): void {
    const n = Buffer.byteLength(text);
    const need = this.length + textFrameHeaderBytes(n) + n;
    let buf = this.buf;
    if (buf === undefined) {
      buf = Buffer.allocUnsafe(Math.max(need, INITIAL_BYTES));
    } else if (need > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
      buf.copy(grown, 0, 0, this.length);
      buf = grown;
    }
    this.buf = buf;
    const at = putTextFrameHeader(buf, this.length, n);
    this.length = at + buf.write(text, at);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushBound);
    }
  }

  /** Writes what is gathered (the socket keeps the buffer until it is sent; the next tick takes a new one). */
  flush(): void {
    this.scheduled = false;
    if (this.buf === undefined) return;
    const out = this.buf.subarray(0, this.length);
    this.buf = undefined;
    this.length = 0;
    if (this.ws.readyState === WebSocket.OPEN) this.raw.write(out);
  }
}
