/** A tiny typed event emitter that runs in browsers and Node alike (no node:events). */
export type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly listeners = new Map<keyof E, Set<(...args: never[]) => void>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as unknown as (...args: never[]) => void);
    return () => this.off(event, fn);
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): void {
    this.listeners.get(event)?.delete(fn as unknown as (...args: never[]) => void);
  }

  count<K extends keyof E>(event: K): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /** Calls every listener; one that throws does not stop the others (its error is rethrown async). */
  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as unknown as Listener<E[K]>)(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
