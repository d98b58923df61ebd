/**
 * Clock readings shared by the work of one event-loop callback. The publisher reads a clock
 * three times per message (the message's `ts`, its accept time for the ack-time histogram,
 * the rate limiter's refill), 25–40 ns each, while one socket read hands it a hundred or more
 * frames at once. The first reading in a callback is kept until the microtasks queued after
 * it run, so every frame of one socket read gets the same time: they arrived together. A
 * callback that runs long sees the time it started with.
 */
let mono = 0;
let wall = 0;
let monoValid = false;
let wallValid = false;
let forgetQueued = false;

function forget(): void {
  monoValid = false;
  wallValid = false;
  forgetQueued = false;
}

function queueForget(): void {
  if (forgetQueued) return;
  forgetQueued = true;
  queueMicrotask(forget);
}

/** `performance.now()`, read at most once per callback. */
export function turnNow(): number {
  if (!monoValid) {
    mono = performance.now();
    monoValid = true;
    queueForget();
  }
  return mono;
}

/** `Date.now()`, read at most once per callback. */
export function turnDateNow(): number {
  if (!wallValid) {
    wall = Date.now();
    wallValid = true;
    queueForget();
  }
  return wall;
}
