/**
 * The live consumers, by durable name. Appends wake every consumer (an event, not polling);
 * a second connection under a name already in use replaces the first. Attaching and
 * detaching are reported to `seen`, which records the consumer's last-seen time.
 */

export interface ConsumerSession {
  readonly name: string;
  /** The next seq this connection will deliver. */
  next(): number;
  /** New messages may be in the journal: pump if there is room. */
  wake(): void;
  /** Another connection took this name: stop and close. */
  replaced(): void;
}

export class ConsumerHub {
  private readonly sessions = new Map<string, ConsumerSession>();

  constructor(private readonly seen: (name: string) => void = () => undefined) {}

  /** Registers `session` under its name, replacing (and closing) a previous holder. */
  attach(session: ConsumerSession): void {
    const old = this.sessions.get(session.name);
    this.sessions.set(session.name, session);
    this.seen(session.name);
    if (old && old !== session) old.replaced();
  }

  detach(session: ConsumerSession): void {
    if (this.sessions.get(session.name) !== session) return;
    this.sessions.delete(session.name);
    this.seen(session.name);
  }

  /** Whether `session` is the current holder of its name. */
  holds(session: ConsumerSession): boolean {
    return this.sessions.get(session.name) === session;
  }

  /** The connection consuming as `name`, if any. */
  session(name: string): ConsumerSession | undefined {
    return this.sessions.get(name);
  }

  wakeAll(): void {
    for (const session of this.sessions.values()) session.wake();
  }

  get size(): number {
    return this.sessions.size;
  }
}
