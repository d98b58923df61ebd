/**
 * JSON-line logs (pino) to an injected stream, one child logger per connection. Credentials,
 * Authorization headers and tickets are redacted by path and never passed in the first place.
 */
import { pino, destination, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LogOptions {
  service: string;
  level: string;
  /** Where lines go; stdout by default. Tests pass a sink and read the lines back. */
  stream?: DestinationStream;
}

export function createLogger(opts: LogOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: opts.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'password',
          '*.password',
          'queuePassword',
          '*.queuePassword',
          'authorization',
          '*.authorization',
          'headers.authorization',
          '*.headers.authorization',
          'ticket',
          '*.ticket',
        ],
        censor: '[redacted]',
      },
    },
    opts.stream ?? destination({ dest: 1, sync: false }),
  );
}

let nextConnId = 1;
/** A short id for connection-scoped log lines. */
export function connectionId(): string {
  return (nextConnId++).toString(36);
}
