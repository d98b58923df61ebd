/** What floor.ts and its server child (floor-server.ts) share: the messages and the frames. */

export const FLOOR_STEPS = ['ws-receive', 'tls-receive', 'tls-send', 'tls-send-one'] as const;
export type FloorStep = (typeof FLOOR_STEPS)[number];

/** Frames per socket write in `tls-send`, about what one subscriber turn writes in `pipe`. */
export const FLOOR_FRAMES_PER_WRITE = 512;

/**
 * `tls-send-one` takes at most this many messages: each costs a system call and a wake-up of
 * the reader (tens of µs), and a hundred thousand already make its figure steady.
 */
export const FLOOR_ONE_PER_WRITE_MAX = 100_000;

/** The scenarios' payload: a 64-byte legacy publish frame's text. */
export const FLOOR_PAYLOAD = `{"Topic":"t","Content":"${'x'.repeat(64 - 26)}"}`;

export interface FloorRequest {
  step: FloorStep;
  messages: number;
  cert: string;
  key: string;
}

export type FloorServerReply = { kind: 'port'; port: number } | { kind: 'cpu'; cpuMicrosPerMessage: number };

/**
 * `count` WebSocket text frames carrying FLOOR_PAYLOAD, back to back: masked as a client sends
 * them (a fixed mask: the floor measures bytes, not masking keys), or unmasked as a server does.
 */
export function floorFrames(count: number, masked: boolean): Buffer {
  const payload = Buffer.from(FLOOR_PAYLOAD);
  const mask = masked ? Buffer.from([0x12, 0x34, 0x56, 0x78]) : Buffer.alloc(0);
  const frame = Buffer.concat([Buffer.from([0x81, (masked ? 0x80 : 0) | payload.length]), mask, payload]);
  if (masked) for (let i = 0; i < payload.length; i++) frame[2 + 4 + i] ^= mask[i % 4];
  return Buffer.concat(Array.from({ length: count }, () => frame));
}
