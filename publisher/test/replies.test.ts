import t from 'tap';
import type { WebSocket } from 'ws';
import { Replies } from '../src/replies.js';

/** Just what Replies touches of a ws WebSocket over a raw socket. */
function fakeSocket() {
  const written: Buffer[] = [];
  const ws = {
    extensions: '',
    readyState: 1,
    closedWith: undefined as number | undefined,
    _socket: { write: (b: Buffer) => written.push(Buffer.from(b)) > 0 },
    close(code?: number) {
      this.closedWith = code;
      this.readyState = 2;
    },
  };
  return { ws, written };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('no raw socket (an extension, or none at all): undefined, so replies go through ws.send', async (t) => {
  const { ws } = fakeSocket();
  t.equal(Replies.of({ ...ws, extensions: 'permessage-deflate' } as unknown as WebSocket), undefined);
  t.equal(Replies.of({ ...ws, _socket: null } as unknown as WebSocket), undefined);
});

t.test('a burst grows one buffer; between ticks none is held, whatever the last burst was', async (t) => {
  const { ws, written } = fakeSocket();
  const replies = Replies.of(ws as unknown as WebSocket)!;
  const held = (): unknown => (replies as unknown as { buf: Buffer | undefined }).buf;
  t.equal(held(), undefined, 'nothing before the first reply');
  const text = JSON.stringify({ op: 'ack', id: 'x'.repeat(40), seq: 1 });
  for (let i = 0; i < 500; i++) replies.add(text);
  t.equal(replies.pendingBytes, 500 * (2 + text.length), 'frames gathered: header and payload each');
  await tick();
  t.equal(written.length, 1, 'one write');
  t.equal(written[0]!.length, 500 * (2 + text.length));
  t.equal(held(), undefined, 'the buffer went with the write');
  t.equal(replies.pendingBytes, 0);
  replies.flush();
  t.equal(written.length, 1, 'nothing gathered, nothing written');
});

t.test('ws.close writes what is gathered first; a socket no longer open gets nothing', async (t) => {
  const { ws, written } = fakeSocket();
  const replies = Replies.of(ws as unknown as WebSocket)!;
  replies.add('{"op":"ack","id":"a","seq":1}');
  ws.close(1001);
  t.equal(written.length, 1, 'written before the close');
  t.equal(ws.closedWith, 1001, 'and closed');
  replies.add('{"op":"ack","id":"b","seq":2}');
  await tick();
  t.equal(written.length, 1, 'a reply gathered after the close is dropped');
});
