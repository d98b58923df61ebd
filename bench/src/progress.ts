/**
 * Progress on stderr: a one-line bar redrawn in place on a TTY, otherwise a plain line every
 * few seconds (CI logs). The stream is a parameter so tests read what it writes.
 */
import type { Progress } from './runner.js';

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressBar {
  update(p: Progress): void;
  done(): void;
}

const BAR_WIDTH = 24;
const TTY_INTERVAL_MS = 100;
const PLAIN_INTERVAL_MS = 2000;

export function progressLine(label: string, p: Progress, width = BAR_WIDTH): string {
  const pubFrac = p.messages > 0 ? p.published / p.messages : 0;
  const recvFrac = p.expectedDeliveries > 0 ? p.received / p.expectedDeliveries : 0;
  const frac = Math.min(1, p.phase === 'publishing' || p.phase === 'draining' ? (pubFrac + recvFrac) / 2 : 0);
  const filled = Math.round(frac * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const secs = (p.elapsedMs / 1000).toFixed(1);
  return `${label} ${bar} ${p.phase} published ${p.published}/${p.messages} delivered ${p.received}/${p.expectedDeliveries} ${secs}s`;
}

export function createProgress(stream: ProgressStream, label: string, now: () => number = Date.now): ProgressBar {
  const tty = stream.isTTY === true;
  let last = -Infinity;
  let lastLine = '';
  return {
    update(p) {
      const t = now();
      if (t - last < (tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS)) return;
      last = t;
      lastLine = progressLine(label, p);
      if (tty) stream.write(`\r\x1b[2K${lastLine.slice(0, (stream.columns ?? 120) - 1)}`);
      else stream.write(lastLine + '\n');
    },
    done() {
      if (tty && lastLine) stream.write('\r\x1b[2K');
    },
  };
}
