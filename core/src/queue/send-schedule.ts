/**
 * When a queue producer sends what it was offered.
 *
 * Without a linger (0, the default) it sends at the end of the event-loop turn in which the
 * first message arrived: what one socket read brought leaves as one write, and nothing waits
 * on a timer. With `--queue-linger-ms N`, the first message after a send starts an N ms
 * timer and everything offered until it fires leaves together (as Kafka's `linger.ms`). At
 * moderate rates, where messages arrive one or two per turn, each hop after the publisher
 * then handles one batch (one link frame, one journal write, one delivery to the subscriber,
 * one socket write per client) per N ms instead of one per message, at the cost of up to N ms
 * of latency. A full batch never waits.
 */
/** Messages waiting to be sent that make a whole batch, for a producer without a batch size of its own: they never linger. */
export const FULL_BATCH_MESSAGES = 512;

export class SendSchedule {
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly fire = (): void => {
    this.cancel();
    this.send();
  };

  constructor(
    private readonly lingerMs: number,
    private readonly send: () => void,
  ) {}

  /** A message was offered; `full`: a whole batch is waiting, so it goes at the end of this turn. */
  offered(full: boolean): void {
    if (this.lingerMs <= 0 || full) {
      this.soon(true);
      return;
    }
    if (this.immediate === undefined) this.timer ??= setTimeout(this.fire, this.lingerMs);
  }

  /**
   * Room again (an answer freed the window): send at the end of this turn, unless a linger is
   * under way (`force`: even then), so answers do not cut the wait short.
   */
  soon(force = false): void {
    if (this.immediate !== undefined) return;
    if (this.timer !== undefined) {
      if (!force) return;
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.immediate = setImmediate(this.fire);
  }

  /** Whether a linger timer is running (what is offered waits for it). */
  get lingering(): boolean {
    return this.timer !== undefined;
  }

  cancel(): void {
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.immediate = this.timer = undefined;
  }
}
