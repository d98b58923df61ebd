/** How the demo client prints: `>[topic] text` sent, `<[topic] text` received, colours on a TTY only. */
const COLORS = { green: 32, cyan: 36, red: 31, dim: 2 } as const;
export type Color = keyof typeof COLORS;

export type Painter = (color: Color, text: string) => string;

export function painter(enabled: boolean): Painter {
  return enabled ? (color, text) => `\x1b[${COLORS[color]}m${text}\x1b[0m` : (_color, text) => text;
}

/** Colours only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

export function sentLine(topic: string, text: string): string {
  return `>[${topic}] ${text}`;
}

export function receivedLine(topic: string, text: string): string {
  return `<[${topic}] ${text}`;
}
