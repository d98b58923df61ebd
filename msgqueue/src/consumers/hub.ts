/**
 * The live consumers, by durable name. Appends wake every consumer (an event, not polling);
 * a second connection under a name already in use replaces the first.
 */

export interface ConsumerSession {
  readonly name: string;
  /** New messages may be in the journal: pump if there is room. */
  wake(): void;
  /** Another connection took this name: stop and close. */
  replaced(): void;
}

export class ConsumerHub {
  private readonly sessions = new Map<string, ConsumerSession>();

  /** Registers `session` under its name, replacing (and closing) a previous holder. */
  attach(session: ConsumerSession): void {
    const old = this.sessions.get(session.name);
    this.sessions.set(session.name, session);
    if (old && old !== session) old.replaced();
  }

  detach(session: ConsumerSession): void {
    if (this.sessions.get(session.name) === session) this.sessions.delete(session.name);
  }

  wakeAll(): void {
    for (const session of this.sessions.values()) session.wake();
  }

  get size(): number {
    return this.sessions.size;
  }
}
