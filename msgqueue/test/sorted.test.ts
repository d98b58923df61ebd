import t from 'tap';
import { floorIndex } from '../src/journal/sorted.js';

t.test('floorIndex finds the last value at or below x', async (t) => {
  const values = [0, 3, 3, 7, 20];
  const cases: [number, number][] = [
    [-1, -1],
    [0, 0],
    [2, 0],
    [3, 2],
    [6, 2],
    [7, 3],
    [19, 3],
    [20, 4],
    [1e9, 4],
  ];
  for (const [x, want] of cases) t.equal(floorIndex(values, x), want, `x = ${x}`);
  t.equal(floorIndex([], 5), -1, 'empty');
  t.equal(floorIndex([5], 5), 0, 'one value');
});
