/**
 * The interactive client of ws-go: one line per command, read with node:readline (history on
 * a terminal). Fed by any input/output streams, so tests drive it with PassThrough streams.
 */
import { clearLine, createInterface, cursorTo } from 'node:readline';
import type { Client } from './client.js';
import { parseCommand, HELP } from './commands.js';
import { describeClose } from './errors.js';
import { painter, receivedLine, sentLine, type Color } from './format.js';

export interface ReplOptions {
  client: Client;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Colour the output (the caller decides: TTY and no NO_COLOR). */
  color?: boolean;
  /** Line editing, prompt and history; by default when the output is a TTY. */
  terminal?: boolean;
  historySize?: number;
  /** Ends the REPL like `exit` (Ctrl-C when the input is not a terminal). */
  signal?: AbortSignal;
  /** Printed first, e.g. where the client is connected. */
  greeting?: string;
}

/** Runs until `exit`, end of input or Ctrl-C (0), or until a connection is lost (1). */
export function runRepl(opts: ReplOptions): Promise<number> {
  const { client, output } = opts;
  const terminal = opts.terminal ?? (output as { isTTY?: boolean }).isTTY === true;
  const paint = painter(opts.color === true);
  const v1 = client.protocol === 'v1';
  const rl = createInterface({
    input: opts.input,
    output,
    terminal,
    historySize: opts.historySize ?? 1000,
    removeHistoryDuplicates: true,
    prompt: terminal ? 'wsq> ' : '',
  });
  const inFlight = new Set<Promise<unknown>>();
  let ending = false;
  let resolveDone: (code: number) => void;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  function print(line: string, color?: Color): void {
    const text = color ? paint(color, line) : line;
    if (!terminal) {
      output.write(text + '\n');
      return;
    }
    // Keep what the user is typing: clear the prompt line, print, redraw the prompt.
    clearLine(output, 0);
    cursorTo(output, 0);
    output.write(text + '\n');
    if (!ending) rl.prompt(true);
  }

  function track(p: Promise<unknown>): void {
    const guarded = p.catch((err: Error) => print(`! ${err.message}`, 'red'));
    inFlight.add(guarded);
    void guarded.finally(() => inFlight.delete(guarded));
  }

  function end(code: number): void {
    if (ending) return;
    ending = true;
    offMessage();
    offError();
    offClose();
    offState();
    opts.signal?.removeEventListener('abort', onAbort);
    rl.close();
    void (async () => {
      // Let what was typed before `exit` reach the server before the sockets close.
      await Promise.allSettled([...inFlight]);
      await client.close();
      resolveDone(code);
    })();
  }

  const offMessage = client.on('message', (d) => print(receivedLine(d.topic, d.text), 'green'));
  const offError = client.on('error', (err) => print(`! ${err.message}`, 'red'));
  const offClose = client.on('close', (endpoint, code, reason) => {
    print(`! the ${endpoint} closed the connection (${describeClose(code, reason)})`, 'red');
    end(1);
  });
  // v1 (@wsq/client) reconnects by itself: say so, and carry on.
  const offState = client.on('state', (state) => {
    if (state === 'reconnecting')
      print('! connection lost; reconnecting (subscriptions resume where they stopped)', 'red');
    else if (state === 'open') print('reconnected', 'dim');
  });
  const onAbort = (): void => end(0);
  opts.signal?.addEventListener('abort', onAbort);

  rl.on('line', (line) => {
    if (ending) return;
    const cmd = parseCommand(line);
    switch (cmd.kind) {
      case 'empty':
        break;
      case 'help':
        print(HELP);
        break;
      case 'bad':
        print(`! ${cmd.message}`, 'red');
        break;
      case 'exit':
        end(0);
        return;
      case 'sub':
        // Legacy servers never confirm; v1 ones do, and that is worth showing.
        for (const p of cmd.patterns) {
          track(client.subscribe(p).then((r) => v1 && print(`subscribed to ${p} (seq ${r.seq ?? '?'})`, 'dim')));
        }
        break;
      case 'unsub':
        for (const p of cmd.patterns)
          track(client.unsubscribe(p).then(() => v1 && print(`unsubscribed from ${p}`, 'dim')));
        break;
      case 'pub':
        track(client.publish(cmd.topic, cmd.text, { onSent: () => print(sentLine(cmd.topic, cmd.text), 'cyan') }));
        break;
      default: {
        const never: never = cmd;
        return never;
      }
    }
    if (terminal) rl.prompt();
  });
  rl.on('close', () => end(0)); // Ctrl-D or end of input
  rl.on('SIGINT', () => end(0)); // Ctrl-C on a terminal

  if (opts.greeting)
    print(opts.greeting, 'dim'); // print() shows the prompt after it
  else if (terminal) rl.prompt();
  if (opts.signal?.aborted) end(0);
  return done;
}
