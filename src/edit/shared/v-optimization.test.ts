import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { lengthGroups } from '../../models/length-groups.js';

/** Cost of a grouping as lengthGroups defines it. */
const cost = (lengths: number[], groups: number[][], overhead: number): number =>
  groups.reduce((s, g) => s + g.length * Math.max(...g.map((i) => lengths[i]!)) + overhead, 0);

/** Every partition of sorted contiguous runs (2^(n-1) of them), cheapest cost. */
function bruteForce(lengths: number[], overhead: number, maxRows = Infinity): number {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  let best = Infinity;
  for (let mask = 0; mask < 1 << (order.length - 1); mask++) {
    const groups: number[][] = [[]];
    order.forEach((i, k) => {
      groups[groups.length - 1]!.push(i);
      if (k < order.length - 1 && mask & (1 << k)) groups.push([]);
    });
    if (groups.every((g) => g.length <= maxRows)) best = Math.min(best, cost(lengths, groups, overhead));
  }
  return best;
}

test('lengthGroups: a partition of the rows with the least padded rows + per-batch overhead', () => {
  const rng = new T.Rng(Number(process.env['LMEDIT_TEST_SEED'] ?? Date.now() % 100000));
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + rng.nextInt(10);
    const lengths = Array.from({ length: n }, () => 1 + rng.nextInt(25));
    const overhead = rng.nextInt(40);
    const groups = lengthGroups(lengths, overhead);
    assert.deepEqual(
      groups.flat().sort((a, b) => a - b),
      lengths.map((_, i) => i),
      'every row exactly once',
    );
    for (const g of groups)
      assert.deepEqual(
        g,
        [...g].sort((a, b) => a - b),
        'rows keep their order inside a group',
      );
    assert.equal(cost(lengths, groups, overhead), bruteForce(lengths, overhead), `lengths ${lengths}, overhead ${overhead}`);
  }
  for (let trial = 0; trial < 100; trial++) {
    const n = 1 + rng.nextInt(10);
    const lengths = Array.from({ length: n }, () => 1 + rng.nextInt(25));
    const overhead = rng.nextInt(60);
    const maxRows = 1 + rng.nextInt(4);
    const groups = lengthGroups(lengths, overhead, maxRows);
    assert.ok(
      groups.every((g) => g.length <= maxRows),
      'no group over maxRows',
    );
    assert.equal(
      cost(lengths, groups, overhead),
      bruteForce(lengths, overhead, maxRows),
      `lengths ${lengths}, overhead ${overhead}, maxRows ${maxRows}`,
    );
  }
  assert.deepEqual(lengthGroups([5, 5, 5], 24), [[0, 1, 2]], 'equal lengths: one batch');
  assert.deepEqual(
    lengthGroups([5, 5, 5], 24, 2)
      .map((g) => g.length)
      .sort(),
    [1, 2],
    'maxRows splits',
  );
  assert.deepEqual(
    lengthGroups([3, 30, 3, 30], 0),
    [
      [0, 2],
      [1, 3],
    ],
    'no overhead: split by length',
  );
});
