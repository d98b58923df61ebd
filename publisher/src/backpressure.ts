/**
 * Backpressure on publishing sockets while the msgqueue link is up. When the producer's outbox
 * passes its high-water mark (half of --outbox-messages or --outbox-bytes), every socket that
 * publishes is paused (`ws.pause()`: its frames stay in the kernel, so TCP slows the client
 * down) until the outbox falls below the low-water mark (a quarter of both), then all resume.
 * While the link is not up nothing is paused and everyone is resumed: the outbox fills and
 * refuses past its limit, as DESIGN §4.3 says.
 */
import type { WebSocket } from 'ws';

/** High and low water, as fractions of the outbox limits. */
export const HIGH_WATER = 0.5;
export const LOW_WATER = 0.25;

export interface WaterMarks {
  highMessages: number;
  highBytes: number;
  lowMessages: number;
  lowBytes: number;
}

/** The marks derived from the outbox limits (at least 1 message between low and high). */
export function waterMarks(outboxMessages: number, outboxBytes: number): WaterMarks {
  const highMessages = Math.max(1, Math.floor(outboxMessages * HIGH_WATER));
  const highBytes = Math.max(1, Math.floor(outboxBytes * HIGH_WATER));
  return {
    highMessages,
    highBytes,
    lowMessages: Math.min(highMessages - 1, Math.floor(outboxMessages * LOW_WATER)),
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
