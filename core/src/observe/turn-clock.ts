/**
 * Clock readings shared by the work of one event-loop callback. The publisher reads a clock
 * three times per message (the message's `ts`, its accept time for the ack-time histogram,
 * the rate limiter's refill), 25–40 ns each, while one socket read hands it a hundred or more
 * frames at once. The first reading in a callback is kept until the microtasks queued after
 * it run, so every frame of one socket read gets the same time: they arrived together. A
 * callback that runs long sees the time it started with.
 */
function oncePerCallback(read: () => number): () => number {
  let value = 0;
  let valid = false;
  const forget = (): void => {
    valid = false;
  };
  return () => {
    if (!valid) {
      value = read();
      valid = true;
      queueMicrotask(forget);
    }
    return value;
  };
}

/** `performance.now()`, read at most once per callback. */
export const turnNow = oncePerCallback(() => performance.now());

/** `Date.now()`, read at most once per callback. */
export const turnDateNow = oncePerCallback(Date.now);
