import type { EventEmitter } from 'node:events';

/** Resolves once `check()` is true, re-checking whenever `subscribe`'s callback is called. */
export function until(check: () => boolean, subscribe: (recheck: () => void) => () => void): Promise<void> {
  return new Promise((resolve) => {
    if (check()) return resolve();
    const unsubscribe = subscribe(() => {
      if (check()) {
        unsubscribe();
        resolve();
      }
    });
  });
}

/** Resolves once `check()` is true, re-checking on every 'change' the emitter emits. */
export function untilChange(events: EventEmitter, check: () => boolean): Promise<void> {
  return until(check, (recheck) => {
    events.on('change', recheck);
    return () => events.off('change', recheck);
  });
}
