/**
 * `since` resumes (DESIGN 3.2): replay every retained message with seq > since that matches,
 * then continue live with no gap and no duplicate.
 *
 * How: a connection runs its resumes one at a time. A resume puts its subscription in the
 * index and notes `to`, the seq after which live delivery continues; from then on, live
 * messages for this connection are held (bounded). It pages through the queue's replay of
 * (since, to], skipping what another live subscription of the connection already covers, then
 * sends the held messages still wanted and goes live. Live messages at or below `to` (a queue
 * still catching up after a restart) are not delivered through the resumed subscription again.
 */
import {
  ProtocolError,
  encodeError,
  encodeMsg,
  encodeSubscribed,
  matchesPattern,
  type FrameErrorCode,
  type QueueConsumer,
} from '@wsq/core';
import type { Client, ReplayJob } from './client.js';
import type { SubscriberMetrics } from './metrics.js';
import type { Router } from './router.js';

/** Bounds the replay requests in flight to the queue; waiters are served in order. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export interface ResumeDeps {
  router: Router;
  queue: QueueConsumer;
  limiter: Limiter;
  metrics: SubscriberMetrics;
  replayBatchMessages: number;
  /** Whether the live position is known (something delivered, or the link came up once). */
  positionKnown(): boolean;
}

/** Queues a resume; starts the connection's resume loop unless it runs already. */
export function enqueueResume(deps: ResumeDeps, client: Client, job: ReplayJob): void {
  client.jobs.push(job);
  if (client.replaying) return;
  client.replaying = true;
  void runResumes(deps, client);
}

async function runResumes(deps: ResumeDeps, client: Client): Promise<void> {
  try {
    for (let job = client.jobs.shift(); job !== undefined && !client.gone; job = client.jobs.shift()) {
      await runResume(deps, client, job);
      deps.router.flushHeld(client);
    }
  } catch (err) {
    client.log.error({ err }, 'resume failed');
    client.kick('replay_failed', 0);
  } finally {
    // Synchronous from the last flush on: no live message can slip in between.
    deps.router.flushHeld(client);
    client.replaying = false;
  }
}

function errorCode(err: unknown): FrameErrorCode {
  return err instanceof ProtocolError ? err.code : 'INTERNAL';
}

async function runResume(deps: ResumeDeps, client: Client, job: ReplayJob): Promise<void> {
  const { router, queue, metrics } = deps;
  const { sub, since, id } = job;
  if (sub.state === 'removed') {
    // An earlier resume of this subscription failed and dropped it.
    client.send(encodeError('UNAVAILABLE', 'the subscription could not be resumed; retry', id));
    return;
  }
  const isNew = sub.state !== 'live';
  if (!deps.positionKnown()) {
    fail(client, job, isNew, deps, 'UNAVAILABLE', 'the msgqueue link is not up yet; retry');
    return;
  }
  const to = router.position();
  if (isNew) {
    sub.state = 'replaying';
    // A client ahead of us (up to the queue head) is not sent what it already has.
    sub.liveAfter = Math.max(to, Math.min(since, Math.max(to, queue.lastSeq)));
    router.addToIndex(client, sub);
  }
  let announced = false;
  const announce = (recovered: boolean): void => {
    announced = true;
    const frame =
      id === undefined ? { topic: sub.pattern, seq: to, recovered } : { id, topic: sub.pattern, seq: to, recovered };
    client.send(encodeSubscribed(frame));
  };
  const stopped = (): boolean => client.gone || sub.state === 'removed';
  let sent = 0;
  try {
    let from = since + 1;
    if (from > to) announce(true);
    while (from <= to) {
      const page = await deps.limiter.run(() => queue.replay(from, to, sub.pattern, deps.replayBatchMessages));
      if (stopped()) return;
      if (!announced) announce(page.firstSeq <= since + 1);
      for (const m of page.messages) {
        if (m.seq < from || m.seq > to || !matchesPattern(sub.pattern, m.topic) || router.covered(client, m)) continue;
        if (!(await client.sendPaced(encodeMsg(m.topic, m.seq, m.data, m.ts)))) return;
        sent++;
        if (stopped()) return;
      }
      if (!page.more) break;
      // A page cut by the queue's scan limit may hold no match at all: continue where the scan stopped.
      const last = page.messages[page.messages.length - 1];
      const next = page.next ?? (last === undefined ? from : last.seq + 1);
      if (next <= from) break;
      from = next;
    }
  } catch (err) {
    if (stopped()) return;
    if (!announced) {
      fail(client, job, isNew, deps, errorCode(err), `replay failed: ${(err as Error).message}`);
      return;
    }
    client.log.warn({ err: (err as Error).message, pattern: sub.pattern }, 'replay failed midway');
    client.kick('replay_failed', 0);
    return;
  } finally {
    if (sent > 0) metrics.replayed.inc(sent);
  }
  if (stopped()) return;
  sub.from = isNew ? since : Math.min(sub.from, since);
  sub.state = 'live';
  if (sub.liveAfter > client.liveAfterMax) client.liveAfterMax = sub.liveAfter;
  client.log.debug({ pattern: sub.pattern, since, to, sent }, 'resume done');
}

/** Nothing was sent for this resume yet: answer an error frame and forget a new subscription. */
function fail(
  client: Client,
  job: ReplayJob,
  isNew: boolean,
  deps: ResumeDeps,
  code: FrameErrorCode,
  message: string,
): void {
  const { sub } = job;
  if (isNew) {
    deps.router.removeFromIndex(client, sub);
    if (client.subs.get(sub.pattern) === sub) client.subs.delete(sub.pattern);
    sub.state = 'removed';
  }
  client.log.info({ code, pattern: sub.pattern }, 'resume refused');
  client.send(encodeError(code, message, job.id));
}
