import t from 'tap';
import { putTextFrameHeader, textFrameHeaderBytes } from '../src/front/raw-frames.js';

t.test('text frame headers: the three length forms of RFC 6455, read back by ws’s own receiver', async (t) => {
  const { Receiver } = (await import('ws')) as unknown as { Receiver: new (opts?: object) => NodeJS.WritableStream };
  for (const length of [0, 125, 126, 65535, 65536, 70000]) {
    const header = textFrameHeaderBytes(length);
    t.equal(header, length < 126 ? 2 : length < 65536 ? 4 : 10, `${length}: header size`);
    const frame = Buffer.alloc(3 + header + length, 0x61); // at an offset, as a batch writes it
    const start = putTextFrameHeader(frame, 3, length);
    t.equal(start, 3 + header);
    const got = await new Promise<string>((resolve, reject) => {
      const receiver = new Receiver({ isServer: false, maxPayload: 1 << 20 });
      receiver.on('message', (data: Buffer, isBinary: boolean) =>
        isBinary ? reject(new Error('binary')) : resolve(data.toString()),
      );
      receiver.on('error', reject);
      receiver.write(frame.subarray(3));
    });
    t.equal(got.length, length, `${length}: a whole text message`);
  }
});
