/**
 * Importing statistics: ROME/MEMIT .npz files written here with fflate (a stored and a deflated
 * entry, plus the string `constructor` entry ROME writes), safetensors matrices, folder search,
 * the provider using them without a forward pass, inspection, and clear errors.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import * as T from '../../tensor/index.js';
import { saveSafetensors } from '../../io/safetensors.js';
import { findStatsFile, importStatsFile, parseNpy, readNpz } from './import.js';
import { createStatsProvider, inspectStats } from './index.js';
import { countingModel, tempDir, tinyGpt2 } from './testing.js';

const tmp = tempDir();
after(() => tmp.remove());
const L1 = 'transformer.h.1.mlp.c_proj';

/** A .npy file: magic, version 1.0, header padded to a multiple of 64 bytes, raw data. */
function npy(descr: string, shape: number[], data: Uint8Array, fortran = false): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + dict.length + 1) % 64);
  const header = dict + ' '.repeat(pad % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A symmetric positive semi-definite sum Σ k kᵀ of n random keys [d, d]. */
function randomSum(d: number, n: number, seed = 5): Float32Array {
  const rng = new T.Rng(seed);
  const K = rng.normal([n, d]);
  const S = T.matmul(T.transpose(K), K);
  const out = Float32Array.from(S.toArray());
  K.dispose();
  S.dispose();
  return out;
}

function writeNpz(path: string, sum: Float32Array | Float64Array, d: number, count: number, descr = '<f4'): void {
  const zip = zipSync({
    'mom2.constructor.npy': [npy('<U32', [], new Uint8Array(128)), { level: 0 }],
    'mom2.count.npy': [npy('<i8', [], bytes(BigInt64Array.of(BigInt(count)))), { level: 6 }],
    'mom2.mom2.npy': [npy(descr, [d, d], bytes(sum)), { level: 0 }],
  });
  writeFileSync(path, zip);
}

describe('import', () => {
  const d = 32;
  const sum = randomSum(d, 200);
  const dir = join(tmp.dir, 'stats', 'gpt2', 'wikipedia_stats');
  mkdirSync(dir, { recursive: true });
  const npzPath = join(dir, `${L1}_float32_mom2_200.npz`);
  writeNpz(npzPath, sum, d, 200);

  test('npz round trip: mom2.mom2 (stored) / mom2.count (deflated) → C = sum / count', () => {
    const s = importStatsFile(npzPath, d);
    assert.equal(s.format, 'npz');
    assert.equal(s.count, 200);
    assert.equal(s.dtype, 'float32');
    assert.deepEqual(s.sum!.toArray(), Array.from(sum));
    const mean = s.mean.toArray();
    for (let i = 0; i < mean.length; i++) assert.equal(mean[i], Math.fround(sum[i]! / 200));
    s.sum!.dispose();
    s.mean.dispose();
    const all = readNpz(npzPath, (k) => k === 'mom2.count');
    assert.deepEqual([...all.keys()], ['mom2.count']);
  });

  test('a stored entry with overwritten floats fails its CRC-32 check, naming the entry', () => {
    const bad = join(tmp.dir, 'corrupt.npz');
    const zip = new Uint8Array(readFileSync(npzPath));
    // the stored mom2.mom2.npy payload: overwrite 100 floats in the middle of the file
    const at = Math.floor(zip.length / 2);
    new Float32Array(zip.buffer, zip.byteOffset + (at - (at % 4)), 100).fill(123.5);
    writeFileSync(bad, zip);
    assert.throws(() => importStatsFile(bad, d), /corrupt\.npz: entry mom2\.mom2\.npy fails its CRC-32 check/);
  });

  test('the provider finds the file in a folder and runs no forward pass', () => {
    const { model, forwards } = countingModel(tinyGpt2());
    assert.equal(findStatsFile(join(tmp.dir, 'stats'), L1), npzPath);
    assert.equal(findStatsFile(join(tmp.dir, 'stats'), 'transformer.h.2.mlp.c_proj'), null);
    const p = createStatsProvider({ statsPath: join(tmp.dir, 'stats'), cacheDir: false });
    const C = p.secondMoment(model, 1, L1);
    assert.deepEqual(C.shape, [d, d]);
    assert.equal(forwards(), 0);
    assert.deepEqual(p.source(model, L1), { kind: 'import', path: npzPath, tokens: 200 });
    // per-layer mapping by layer number
    const q = createStatsProvider({ statsPath: { '1': npzPath }, cacheDir: false });
    assert.deepEqual(q.secondMoment(model, 1, L1).toArray(), C.toArray());
    assert.throws(() => q.secondMoment(model, 2, 'transformer.h.2.mlp.c_proj'), /pass a stats file\/folder, or a corpus/);
    p.dispose();
    q.dispose();
  });

  test('a matrix that is not a second moment (asymmetric, clearly negative eigenvalues) is refused', () => {
    const good = Array.from(sum, (x) => x / 200);
    const asym = [...good];
    asym[1] = asym[1]! + 0.5 * Math.max(...good.map(Math.abs));
    // C − 10·mean(diag)·v vᵀ for a unit v: eigenvalues far below zero, yet symmetric with a positive diagonal mean
    const v = Array.from({ length: d }, (_, i) => (i % 2 ? 1 : -1) / Math.sqrt(d));
    const meanDiag = good.filter((_, i) => i % (d + 1) === 0).reduce((a, b) => a + b, 0) / d;
    const negative = good.map((x, k) => x - 10 * meanDiag * v[Math.floor(k / d)]! * v[k % d]!);
    for (const [name, values, want] of [
      ['asym', asym, /the second moment is not symmetric/],
      ['negative', negative, /the second moment has clearly negative eigenvalues/],
    ] as const) {
      const file = join(tmp.dir, `${name}.safetensors`);
      const C = T.tensor(values, [d, d]);
      saveSafetensors(file, { C });
      C.dispose();
      assert.throws(() => importStatsFile(file, d), want);
    }
  });

  test('safetensors: a single 2-D matrix is C; a mom2/count pair is a sum', () => {
    const C = T.tensor(
      Array.from(sum, (x) => x / 200),
      [d, d],
    );
    const single = join(tmp.dir, `${L1}.safetensors`);
    saveSafetensors(single, { C });
    const a = importStatsFile(single, d);
    assert.equal(a.format, 'safetensors-mean');
    assert.equal(a.count, null);
    assert.deepEqual(a.mean.toArray(), C.toArray());
    const pair = join(tmp.dir, 'pair.safetensors');
    const S = T.tensor(sum, [d, d], 'float64');
    const n = T.scalar(200, 'float64');
    saveSafetensors(pair, { mom2: S, count: n });
    const b = importStatsFile(pair, d);
    assert.equal(b.format, 'safetensors-sum');
    assert.equal(b.dtype, 'float64');
    assert.equal(b.count, 200);
    assert.equal(b.mean.at(3, 4), sum[3 * d + 4]! / 200);
    [C, S, n, a.mean, b.mean, b.sum!].forEach((t) => t.dispose());
  });

  test('inspect: shape, count, dtype, trace, eigenvalue range', () => {
    const s = inspectStats(npzPath);
    assert.deepEqual(s.shape, [d, d]);
    assert.equal(s.count, 200);
    assert.equal(s.dtype, 'float32');
    let trace = 0;
    for (let i = 0; i < d; i++) trace += Math.fround(sum[i * d + i]! / 200);
    assert.ok(Math.abs(s.trace - trace) < 1e-4 * trace);
    assert.ok(s.eigMin! > 0 && s.eigMax! > s.eigMin!, `${s.eigMin} ${s.eigMax}`);
    assert.ok(Math.abs(s.conditionNumber! - s.eigMax! / s.eigMin!) < 1e-9 * s.conditionNumber!);
  });

  test('wrong shape, malformed files and unsupported arrays give clear errors', () => {
    assert.throws(
      () => importStatsFile(npzPath, 64),
      new RegExp(`${L1}_float32_mom2_200\\.npz: mom2\\.mom2 has shape \\[32, 32\\], expected \\[64, 64\\]`),
    );
    const small = join(tmp.dir, 'small.npz');
    writeNpz(small, randomSum(16, 20), 16, 20);
    const p = createStatsProvider({ statsPath: { [L1]: small }, cacheDir: false });
    assert.throws(
      () => p.secondMoment(tinyGpt2(), 1, L1),
      /small\.npz: mom2\.mom2 has shape \[16, 16\], expected \[32, 32\] \(d_k/,
    );
    const notZip = join(tmp.dir, 'bad.npz');
    writeFileSync(notZip, 'this is not a zip file at all, just text');
    assert.throws(() => importStatsFile(notZip), /bad\.npz: not a valid \.npz \(zip\) file/);
    const missing = join(tmp.dir, 'missing.npz');
    writeFileSync(missing, zipSync({ 'other.npy': npy('<f4', [1], bytes(Float32Array.of(1))) }));
    assert.throws(() => importStatsFile(missing), /expected arrays "mom2\.mom2".*found other/);
    const bigEndian = join(tmp.dir, 'be.npz');
    writeNpz(bigEndian, sum, d, 200, '>f4');
    assert.throws(() => importStatsFile(bigEndian), /unsupported dtype '>f4'/);
    assert.throws(() => parseNpy(npy('<f4', [2, 2], new Uint8Array(16), true), 'x.npy'), /fortran_order/);
    assert.throws(() => parseNpy(npy('<f4', [4, 4], new Uint8Array(16)), 'x.npy'), /truncated data/);
    assert.throws(() => parseNpy(new Uint8Array(20), 'x.npy'), /bad magic/);
    const rect = join(tmp.dir, 'rect.safetensors');
    const R = T.zeros([4, 5]);
    saveSafetensors(rect, { R });
    assert.throws(() => importStatsFile(rect), /rect\.safetensors: R has shape \[4, 5\], expected a square matrix/);
    R.dispose();
    assert.throws(() => importStatsFile(join(tmp.dir, 'x.bin')), /unknown statistics file type/);
    p.dispose();
  });

  test('several candidate files in a folder: an error naming them', () => {
    const two = join(tmp.dir, 'two');
    mkdirSync(two);
    writeNpz(join(two, `${L1}_float32_mom2_100.npz`), sum, d, 100);
    writeNpz(join(two, `${L1}_float32_mom2_200.npz`), sum, d, 200);
    assert.throws(() => findStatsFile(two, L1), /several statistics files .*_100\.npz, .*_200\.npz/);
  });
});
