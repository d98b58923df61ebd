/** docs/errors.md and core/src/protocol/errors.ts must list the same codes (fastify's habit). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { CLOSE, FRAME_ERROR_CODES, FRAME_ERROR_STATUS, HTTP_ERRORS } from '../src/protocol/errors.js';

const doc = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../../docs/errors.md'), 'utf8');

function rowKeys(pattern: RegExp): Set<string> {
  return new Set([...doc.matchAll(pattern)].map((m) => m[1]!));
}

t.test('every frame error code has a row in docs/errors.md, and no other', async (t) => {
  const documented = rowKeys(/^\|\s*`([A-Z_]+)`\s*\|/gm);
  t.same([...documented].sort(), [...FRAME_ERROR_CODES].sort());
});

t.test('every close code and HTTP status is documented', async (t) => {
  const numbers = rowKeys(/^\|\s*`?(\d{3,4})`?\s*\|/gm);
  for (const code of Object.values(CLOSE)) t.ok(numbers.has(String(code)), `close code ${code}`);
  for (const { status } of Object.values(HTTP_ERRORS)) t.ok(numbers.has(String(status)), `HTTP ${status}`);
});

t.test('every HTTP error code and the HTTP status of every frame error code has its row', async (t) => {
  const rows = new Set([...doc.matchAll(/^\|\s*(\d{3})\s*\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => `${m[1]} ${m[2]}`));
  for (const [code, { status }] of Object.entries(HTTP_ERRORS))
    t.ok(rows.has(`${status} ${code}`), `${status} ${code}`);
  for (const [code, status] of Object.entries(FRAME_ERROR_STATUS))
    t.ok(rows.has(`${status} ${code}`), `${status} ${code}`);
});
