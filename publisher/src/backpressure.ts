/**
 * Backpressure on publishing sockets while the msgqueue link is up. When the producer's outbox
 * passes its high-water mark (half of --outbox-messages, at most HIGH_WATER_MAX_MESSAGES, or
 * half of --outbox-bytes), every socket that publishes is paused (`ws.pause()`: its frames
 * stay in the kernel, so TCP slows the client down) until the outbox falls to the low-water
 * mark (half the high-water mark), then all resume.
 * While the link is not up nothing is paused and everyone is resumed: the outbox fills and
 * refuses past its limit, as DESIGN §4.3 says.
 */
import type { WebSocket } from 'ws';

/** High and low water, as fractions of the outbox limits. */
export const HIGH_WATER = 0.5;
export const LOW_WATER = 0.25;
/**
 * The message high-water mark never exceeds this. While the link is up, the outbox only has to
 * keep the msgqueue busy: a few append batches (512 messages each) cover its round trip. Past
 * that, held messages only wait; each one is a set of live objects that every young-generation
 * GC copies, and they are promoted to the old generation when they wait long enough. In the
 * bench's pipe scenario, pausing at 2 048 instead of 5 000 cut the publisher's CPU per message
 * by about a fifth. The full --outbox-messages still buffers
 * an outage of the link.
 */
export const HIGH_WATER_MAX_MESSAGES = 2048;

export interface WaterMarks {
  highMessages: number;
  highBytes: number;
  lowMessages: number;
  lowBytes: number;
}

/** The marks derived from the outbox limits (low always below high). */
export function waterMarks(outboxMessages: number, outboxBytes: number): WaterMarks {
  const highMessages = Math.max(1, Math.floor(Math.min(outboxMessages * HIGH_WATER, HIGH_WATER_MAX_MESSAGES)));
  const highBytes = Math.max(1, Math.floor(outboxBytes * HIGH_WATER));
  const low = LOW_WATER / HIGH_WATER;
  return {
    highMessages,
    highBytes,
    lowMessages: Math.min(highMessages - 1, Math.floor(highMessages * low)),
    lowBytes: Math.min(highBytes - 1, Math.floor(outboxBytes * LOW_WATER)),
  };
}

export interface Backpressure {
  /** The producer's outbox changed (its onDepth callback). */
  onDepth(depth: number, bytes: number): void;
  /** The link changed state; anything but 'up' resumes everyone. */
  setLinkUp(up: boolean): void;
  /** A socket just published: pause it if the outbox is above high water and the link is up. */
  published(ws: WebSocket): void;
  /** The socket closed: forget it. */
  forget(ws: WebSocket): void;
  /** Resumes every paused socket and stops pausing (shutdown). */
  stop(): void;
  /** Sockets paused now. */
  readonly paused: number;
}

export function createBackpressure(marks: WaterMarks, hooks: { onPause(): void }): Backpressure {
  const paused = new Set<WebSocket>();
  let linkUp = false;
  let stopped = false;
  /** Above high water, and not yet back below low water. */
  let high = false;

  function resumeAll(): void {
    for (const ws of paused) ws.resume();
    paused.clear();
  }

  return {
    onDepth(depth, bytes) {
      if (!high) {
        if (depth >= marks.highMessages || bytes >= marks.highBytes) high = true;
      } else if (depth <= marks.lowMessages && bytes <= marks.lowBytes) {
        high = false;
        resumeAll();
      }
    },
    setLinkUp(up) {
      linkUp = up;
      if (!up) resumeAll();
    },
    published(ws) {
      if (!high || !linkUp || stopped || ws.isPaused) return;
      ws.pause();
      paused.add(ws);
      hooks.onPause();
    },
    forget(ws) {
      paused.delete(ws);
    },
    stop() {
      stopped = true;
      resumeAll();
    },
    get paused() {
      return paused.size;
    },
  };
}
