/** Streaming order statistics vs a plain sort, including buckets too big to collect at once. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { orderStatistics, percentiles } from './select.js';
import type { Float64Stream } from './stream.js';

/** A stream over an array in uneven chunks. */
function streamOf(values: Float64Array, chunk = 1000): Float64Stream {
  const buf = new Float64Array(chunk);
  const words = new Uint32Array(buf.buffer);
  return (visit) => {
    for (let s = 0; s < values.length; s += chunk) {
      const n = Math.min(chunk, values.length - s);
      buf.set(values.subarray(s, s + n));
      visit(buf, words, n);
    }
  };
}

function check(values: Float64Array, ranks: number[]): void {
  const sorted = Float64Array.from(values).sort();
  const { results, n } = orderStatistics(streamOf(values, 4099), ranks);
  assert.equal(n, values.length);
  ranks.forEach((rank, i) => {
    const r = results[i]!;
    const v = sorted[rank]!;
    assert.equal(r.value, v, `rank ${rank}`);
    let less = 0;
    let eq = 0;
    for (const x of values) {
      if (x < v) less++;
      else if (x === v) eq++;
    }
    assert.equal(r.countLess, less, `countLess at rank ${rank}`);
    assert.equal(r.countEqual, eq, `countEqual at rank ${rank}`);
  });
}

describe('orderStatistics', () => {
  test('continuous values with zeros, infinities and subnormals', () => {
    const rng = new T.Rng(2);
    const v = new Float64Array(50_000);
    for (let i = 0; i < v.length; i++) {
      const u = rng.next();
      v[i] = u < 0.1 ? 0 : u < 0.12 ? Infinity : u < 0.13 ? 5e-324 * (1 + rng.nextInt(100)) : Math.exp(10 * rng.nextNormal());
    }
    check(v, [0, 1, 4999, 5000, 5001, 6000, 25_000, 48_000, 49_000, 49_999]);
  });

  test('heavy ties', () => {
    const rng = new T.Rng(4);
    const v = new Float64Array(20_000);
    for (let i = 0; i < v.length; i++) v[i] = [0, 0.5, 0.25, 3, Infinity][rng.nextInt(5)]!;
    check(v, [0, 3999, 4000, 10_000, 15_999, 16_000, 19_999]);
  });

  test('a bucket bigger than 2^20 values is refined by more radix passes', () => {
    const rng = new T.Rng(6);
    const n = 1_300_000;
    const v = new Float64Array(n);
    // all in [1, 1 + 1/256): one level-1 bucket; a third of them one repeated value
    for (let i = 0; i < n; i++) v[i] = i % 3 === 0 ? 1.001 : 1 + rng.next() / 256;
    v[7] = 0.5;
    check(v, [0, 1, 650_000, n - 1]);
    // every value identical: resolved by the bits alone
    const same = new Float64Array(n).fill(0.3);
    check(same, [0, n >> 1, n - 1]);
  });

  test('negative values and NaN are refused; ranks are checked', () => {
    assert.throws(() => orderStatistics(streamOf(new Float64Array([1, -1])), [0]), /non-negative/);
    assert.throws(() => orderStatistics(streamOf(new Float64Array([1, NaN])), [0]), /non-negative/);
    assert.throws(() => orderStatistics(streamOf(new Float64Array([1, 2])), [2]), /out of/);
  });
});

describe('percentiles', () => {
  test('numpy linear interpolation', () => {
    // numpy.percentile([1, 2, 3, 4], [0, 50, 90, 100]) = [1, 2.5, 3.7, 4]
    const got = percentiles(streamOf(new Float64Array([4, 1, 3, 2])), 4, [0, 50, 90, 100]);
    assert.deepEqual(got.slice(0, 2), [1, 2.5]);
    assert.ok(Math.abs(got[2]! - 3.7) < 1e-15);
    assert.equal(got[3], 4);
    assert.deepEqual(percentiles(streamOf(new Float64Array([7])), 1, [50, 99]), [7, 7]);
    assert.deepEqual(percentiles(streamOf(new Float64Array([1, Infinity])), 2, [0, 50, 100]), [1, Infinity, Infinity]);
  });
});
