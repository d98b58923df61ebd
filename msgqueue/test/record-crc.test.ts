import * as zlib from 'node:zlib';
import fc from 'fast-check';
import t from 'tap';
import { CRC32_IMPL, crc32, tableCrc32 } from '../src/journal/record.js';

const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

t.test('crc32 uses zlib.crc32 where Node has it (20.15+, 22)', async (t) => {
  t.equal(CRC32_IMPL, native ? 'zlib' : 'table');
  t.ok(native, `zlib.crc32 exists on Node ${process.versions.node}`);
});

t.test('the check value of CRC-32/IEEE', async (t) => {
  const check = Buffer.from('123456789');
  t.equal(crc32(check), 0xcbf43926);
  t.equal(tableCrc32(check), 0xcbf43926);
  t.equal(crc32(new Uint8Array(0)), 0);
  t.equal(tableCrc32(new Uint8Array(0)), 0);
});

t.test('the table fallback equals zlib on random inputs and ranges', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1));
      const want = native ? native(bytes.subarray(start, end)) : tableCrc32(bytes, start, end);
      return crc32(bytes, start, end) === want && tableCrc32(bytes, start, end) === want;
    }),
    { numRuns: 500 },
  );
  t.pass('500 random buffers and ranges agree');
});
