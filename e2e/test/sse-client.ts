/** A small Server-Sent Events client for the tests: reads a stream's events in order. */
import { request } from 'node:https';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

export interface EventStream {
  status: number;
  contentType: string;
  /** Resolves with the next event that matches (skipping others); rejects when the stream ends first. */
  next(match?: (e: SseEvent) => boolean): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Comment lines seen so far (heartbeats). */
  comments: number;
  /** Stops reading (the response stays unread: the server's buffers fill). */
  pause(): void;
  close(): void;
}

export function openEvents(
  url: string,
  o: { ca: Buffer; auth?: { user: string; password: string }; headers?: Record<string, string> },
): Promise<EventStream> {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...o.headers };
  if (o.auth) headers.authorization = 'Basic ' + Buffer.from(`${o.auth.user}:${o.auth.password}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: o.ca, headers, agent: false }, (res) => {
      const events: SseEvent[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      let done = false;
      let endedResolve: () => void = () => {};
      const ended = new Promise<void>((r) => (endedResolve = r));
      const wake = (): void => {
        for (const w of [...waiters]) w();
      };
      const stream: EventStream = {
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type'] ?? ''),
        comments: 0,
        ended,
        next(match = () => true) {
          return new Promise((res2, rej) => {
            const check = (): void => {
              const i = events.findIndex(match);
              if (i >= 0) {
                waiters.delete(check);
                const e = events[i]!;
                events.splice(0, i + 1);
                res2(e);
              } else if (done) {
                waiters.delete(check);
                rej(new Error('the stream ended'));
              }
            };
            waiters.add(check);
            check();
          });
        },
        pause: () => res.pause(),
        close: () => req.destroy(),
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e: SseEvent = { id: undefined, event: 'message', data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              stream.comments++;
              continue;
            }
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            isEvent = true;
            if (field === 'id') e.id = value;
            else if (field === 'event') e.event = value;
            else if (field === 'data') e.data = e.data === '' ? value : `${e.data}\n${value}`;
          }
          if (isEvent) events.push(e);
        }
        wake();
      });
      res.on('close', () => {
        done = true;
        endedResolve();
        wake();
      });
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}
