/** What every link handler of one msgqueue instance shares. */
import type { BaseMetrics } from '@wsq/core';
import type { Appender } from '../dedupe/appender.js';
import type { CursorStore } from '../consumers/cursors.js';
import type { ConsumerHub } from '../consumers/hub.js';
import type { Journal } from '../journal/journal.js';
import type { MsgqueueConfig } from '../options.js';

export interface QueueContext {
  readonly config: MsgqueueConfig;
  readonly journal: Journal;
  readonly cursors: CursorStore;
  readonly hub: ConsumerHub;
  readonly appender: Appender;
  readonly metrics: BaseMetrics;
}

export const PUSH_PATH = '/pushmsg';
export const POP_PATH = '/popmsg';

/**
 * Whether `name` may hold a durable cursor: known names always, new ones while fewer than
 * maxConsumers exist. Checked when a consumer attaches, so acks never hit the limit later.
 */
export function cursorAllowed(q: QueueContext, name: string): boolean {
  return q.cursors.size < q.config.maxConsumers || q.cursors.has(name);
}

/**
 * Where a consumer resumes: after its acknowledged cursor, or at the oldest retained message
 * when retention already deleted what it had not acknowledged (counted and logged as a drop).
 */
export function resumePoint(
  q: QueueContext,
  name: string,
  log: { warn(o: object, m: string): void },
): { acked: number; next: number } {
  const acked = q.cursors.get(name);
  const first = q.journal.firstSeq;
  const known = acked > 0;
  if (known && acked + 1 < first) {
    const lost = first - acked - 1;
    q.metrics.drops.inc({ reason: 'retention' }, lost);
    log.warn(
      { consumer: name, acked, firstSeq: first, lost },
      'retention deleted messages this consumer had not acknowledged',
    );
  }
  return { acked, next: Math.max(acked + 1, first) };
}
