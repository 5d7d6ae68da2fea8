/**
 * Importing statistics users already have: ROME/MEMIT/EasyEdit `.npz` files (`mom2.mom2` = Σ k kᵀ,
 * `mom2.count`), with a small .npy reader, and safetensors second-moment files (one 2-D matrix =
 * the mean C, or a `mom2`/`count` pair = sum and count). Also finds a module's file in a folder.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { unzipSync } from 'fflate';
import * as zlib from 'node:zlib';
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { loadSafetensors } from '../../io/safetensors.js';

/** An array read from a .npy file. */
export interface NpyArray {
  /** numpy dtype string as stored, e.g. '<f4' */
  descr: string;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const NPY_DTYPES: Record<string, { bytes: number; make: (buf: ArrayBuffer, n: number) => NpyArray['data'] }> = {
  '<f4': { bytes: 4, make: (b, n) => new Float32Array(b, 0, n) },
  '<f8': { bytes: 8, make: (b, n) => new Float64Array(b, 0, n) },
  '<i4': { bytes: 4, make: (b, n) => new Int32Array(b, 0, n) },
  '<i8': { bytes: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
};

/**
 * Parse a .npy file (format versions 1–3): little-endian float32/float64/int32/int64, C order.
 * Anything else (big-endian, fortran_order True, objects, strings) is rejected with the reason.
 * @example const { shape, data } = parseNpy(bytes, 'mom2.mom2.npy');
 */
export function parseNpy(bytes: Uint8Array, what: string): NpyArray {
  if (bytes.length < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b)) throw new Error(`${what}: not a .npy array (bad magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error(`${what}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else throw new Error(`${what}: unsupported .npy format version ${major}`);
  if (start + headerLen > bytes.length) throw new Error(`${what}: truncated .npy header`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeStr === undefined) {
    throw new Error(`${what}: malformed .npy header ${JSON.stringify(header.trim())}`);
  }
  if (fortran === 'True') throw new Error(`${what}: fortran_order arrays are not supported (save with C order)`);
  const dt = NPY_DTYPES[descr];
  if (!dt) {
    throw new Error(`${what}: unsupported dtype '${descr}' (supported: little-endian ${Object.keys(NPY_DTYPES).join(', ')})`);
  }
  const shape = shapeStr
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: bad shape (${shapeStr})`);
      return n;
    });
  const n = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  if (bytes.length - dataStart < n * dt.bytes) {
    throw new Error(`${what}: truncated data (${bytes.length - dataStart} bytes for ${n} × ${descr})`);
  }
  // copy into an aligned buffer (zip entries start at any offset)
  const buf = new ArrayBuffer(n * dt.bytes);
  new Uint8Array(buf).set(bytes.subarray(dataStart, dataStart + n * dt.bytes));
  return { descr, shape, data: dt.make(buf, n) };
}

/**
 * Read selected arrays of an .npz (numpy zip; stored or deflated entries). Keys are the array
 * names without `.npy`. Only entries whose name passes `want` are inflated.
 * @example const arrays = readNpz('stats.npz', (k) => k.startsWith('mom2.'));
 */
export function readNpz(path: string, want: (key: string) => boolean = () => true): Map<string, NpyArray> {
  let raw: Uint8Array;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  let files: Record<string, Uint8Array>;
  const keys: string[] = [];
  try {
    files = unzipSync(raw, {
      filter: (f) => {
        const key = f.name.replace(/\.npy$/, '');
        keys.push(key);
        return f.name.endsWith('.npy') && want(key);
      },
    });
  } catch (e) {
    throw new Error(`${path}: not a valid .npz (zip) file: ${(e as Error).message}`);
  }
  const crcs = centralDirectoryCrcs(raw);
  const out = new Map<string, NpyArray>();
  for (const [name, bytes] of Object.entries(files)) {
    const key = name.replace(/\.npy$/, '');
    const want32 = crcs.get(name);
    // fflate does not check CRC-32: a flipped byte in a stored entry would pass as data
    if (want32 === undefined || crc32(bytes) !== want32)
      throw new Error(`${path}: entry ${name} fails its CRC-32 check; the file is corrupt`);
    out.set(key, parseNpy(bytes, `${path}: ${name}`));
  }
  if (keys.length === 0) throw new Error(`${path}: empty .npz archive`);
  return out;
}

/** Entry name → CRC-32 from a zip's central directory (end-of-central-directory record, then its entries). */
function centralDirectoryCrcs(zip: Uint8Array): Map<string, number> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const out = new Map<string, number>();
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--)
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) return out;
  const entries = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  for (let k = 0; k < entries && p + 46 <= zip.length && view.getUint32(p, true) === 0x02014b50; k++) {
    const crc = view.getUint32(p + 16, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    out.set(new TextDecoder().decode(zip.subarray(p + 46, p + 46 + nameLen)), crc);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

let CRC_TABLE: Uint32Array | null = null;

/** CRC-32 (IEEE, as zip): zlib's when Node has it (≥ 20.15), else a table. */
function crc32(data: Uint8Array): number {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The array names of an .npz, without inflating anything. */
export function npzKeys(path: string): string[] {
  const keys: string[] = [];
  try {
    unzipSync(readFileSync(path), {
      filter: (f) => {
        keys.push(f.name.replace(/\.npy$/, ''));
        return false;
      },
    });
  } catch (e) {
    throw new Error(`${path}: not a valid .npz (zip) file: ${(e as Error).message}`);
  }
  return keys;
}

/** Statistics read from a file: the sum with its count, or only the mean when no count is stored. */
export interface ImportedStats {
  path: string;
  format: 'npz' | 'safetensors-sum' | 'safetensors-mean';
  /** Σ k kᵀ (null for a mean-only file) */
  sum: Tensor | null;
  /** N (null for a mean-only file) */
  count: number | null;
  /** C = Σ / N, or the stored matrix */
  mean: Tensor;
  dtype: 'float32' | 'float64';
}

function countOf(a: NpyArray, what: string): number {
  if (a.data.length !== 1) throw new Error(`${what}: count must hold one value, has shape [${a.shape.join(', ')}]`);
  const v = Number(a.data[0]!);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${what}: count must be a positive integer, got ${String(a.data[0])}`);
  return v;
}

function checkSquare(path: string, name: string, shape: readonly number[], dk: number | undefined): void {
  if (shape.length !== 2 || shape[0] !== shape[1]) {
    throw new Error(`${path}: ${name} has shape [${shape.join(', ')}], expected a square matrix${dk ? ` [${dk}, ${dk}]` : ''}`);
  }
  if (dk !== undefined && shape[0] !== dk) {
    throw new Error(`${path}: ${name} has shape [${shape.join(', ')}], expected [${dk}, ${dk}] (d_k of the edited module)`);
  }
}

/**
 * Import a statistics file (.npz or .safetensors) and validate it against d_k.
 * @example const s = importStatsFile('transformer.h.17.mlp.c_proj_float32_mom2_100000.npz', 6400);
 */
export function importStatsFile(path: string, dk?: number): ImportedStats {
  const ext = extname(path).toLowerCase();
  let s: ImportedStats;
  if (ext === '.npz') s = importNpz(path, dk);
  else if (ext === '.safetensors') s = importSafetensors(path, dk);
  else throw new Error(`${path}: unknown statistics file type (expected .npz or .safetensors)`);
  try {
    checkSecondMoment(s.mean, path);
  } catch (e) {
    s.sum?.dispose();
    s.mean.dispose();
    throw e;
  }
  return s;
}

/** Relative tolerances of {@link checkSecondMoment}. */
const SYMMETRY_TOL = 1e-4;
const NEGATIVE_TOL = 1e-3;

/**
 * C = Σ k kᵀ / N is symmetric and positive semi-definite. Refuse a matrix that is clearly not:
 * asymmetric beyond rounding, or with an eigenvalue below −1e-3 × its mean diagonal (Cholesky of
 * C + 1e-3·mean(diag)·I fails). Such a file is not a second moment, and ROME/MEMIT would invert it.
 */
function checkSecondMoment(C: Tensor, path: string): void {
  T.noGrad(() =>
    T.tidy(() => {
      const c = T.cast(C, 'float64');
      const n = c.shape[0]!;
      const scale = T.max(T.abs(c)).item();
      const asym = T.max(T.abs(T.sub(c, T.transpose(c, 0, 1)))).item();
      if (!(asym <= SYMMETRY_TOL * scale))
        throw new Error(
          `${path}: the second moment is not symmetric (max |C − Cᵀ| = ${asym.toExponential(2)} of max |C| = ${scale.toExponential(2)})`,
        );
      const meanDiag = T.sum(T.mul(c, T.eye(n, 'float64'))).item() / n;
      if (!(meanDiag > 0)) throw new Error(`${path}: the second moment's diagonal has mean ${meanDiag}; it is not Σ k kᵀ / N`);
      try {
        T.cholesky(T.add(c, T.mul(T.eye(n, 'float64'), NEGATIVE_TOL * meanDiag)));
      } catch {
        throw new Error(
          `${path}: the second moment has clearly negative eigenvalues (below −${NEGATIVE_TOL} × its mean diagonal ${meanDiag.toExponential(2)}); it is not Σ k kᵀ / N, refusing it`,
        );
      }
    }),
  );
}

function importNpz(path: string, dk: number | undefined): ImportedStats {
  const arrays = readNpz(path, (k) => k === 'mom2.mom2' || k === 'mom2.count' || k === 'mom2' || k === 'count');
  const sumA = arrays.get('mom2.mom2') ?? arrays.get('mom2');
  const countA = arrays.get('mom2.count') ?? arrays.get('count');
  if (!sumA || !countA) {
    throw new Error(
      `${path}: expected arrays "mom2.mom2" (the sum of k kᵀ) and "mom2.count" (ROME/MEMIT layer_stats layout), found ${npzKeys(path).join(', ')}`,
    );
  }
  if (!(sumA.data instanceof Float32Array || sumA.data instanceof Float64Array)) {
    throw new Error(`${path}: mom2.mom2 must be float32 or float64, got '${sumA.descr}'`);
  }
  checkSquare(path, 'mom2.mom2', sumA.shape, dk);
  const count = countOf(countA, `${path}: mom2.count`);
  const dtype = sumA.data instanceof Float64Array ? 'float64' : 'float32';
  const sum = T.keep(T.Tensor.fromStorage(sumA.data, dtype, sumA.shape));
  const mean = T.keep(T.noGrad(() => T.div(sum, count)));
  return { path, format: 'npz', sum, count, mean, dtype };
}

function importSafetensors(path: string, dk: number | undefined): ImportedStats {
  const { tensors, metadata } = loadSafetensors(path, { dtype: 'keep' });
  const dispose = (): void => tensors.forEach((t) => t.dispose());
  try {
    const sumT = tensors.get('mom2') ?? tensors.get('mom2.mom2');
    const countT = tensors.get('count') ?? tensors.get('mom2.count');
    if (sumT) {
      checkSquare(path, 'mom2', sumT.shape, dk);
      const countVal = countT ? countT.toArray() : metadata['count'] !== undefined ? [Number(metadata['count'])] : null;
      if (!countVal) throw new Error(`${path}: has "mom2" (a sum) but no "count" tensor or metadata`);
      const count = countOf(
        { descr: 'count', shape: countT ? [...countT.shape] : [], data: Float64Array.from(countVal) },
        `${path}: count`,
      );
      const sum = T.keep(toFloat(sumT, path));
      const mean = T.keep(T.noGrad(() => T.div(sum, count)));
      return { path, format: 'safetensors-sum', sum, count, mean, dtype: sum.dtype as 'float32' | 'float64' };
    }
    const mats = [...tensors.entries()].filter(([, t]) => t.rank === 2);
    if (mats.length !== 1) {
      throw new Error(
        `${path}: expected one 2-D tensor (the second moment C) or a "mom2"/"count" pair, found ${
          [...tensors.entries()].map(([n, t]) => `${n} [${t.shape.join(', ')}]`).join(', ') || 'no tensor'
        }`,
      );
    }
    const [name, m] = mats[0]!;
    checkSquare(path, name, m.shape, dk);
    const mean = T.keep(toFloat(m, path));
    return { path, format: 'safetensors-mean', sum: null, count: null, mean, dtype: mean.dtype as 'float32' | 'float64' };
  } finally {
    dispose();
  }
}

/** f16/bf16 files are widened to float32; float32/float64 are copied as they are. */
function toFloat(t: Tensor, path: string): Tensor {
  if (t.dtype === 'float32' || t.dtype === 'float64') return T.clone(t);
  if (t.dtype === 'float16' || t.dtype === 'bfloat16') return T.cast(t, 'float32');
  throw new Error(`${path}: statistics must be floating point, got ${t.dtype}`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Find the statistics file of a module in a folder (searched 4 levels deep): the ROME/MEMIT
 * layout `<module>_<dtype>_mom2[_<n>].npz` (e.g. `transformer.h.17.mlp.c_proj_float32_mom2_100000.npz`
 * under `<stats_dir>/<model>/<ds>_stats/`) or `<module>.safetensors`. Null when there is none;
 * an error naming the candidates when there are several.
 */
export function findStatsFile(dir: string, moduleName: string): string | null {
  const re = new RegExp(`^${escapeRe(moduleName)}(_(float16|float32|float64)_mom2(_\\d+)?\\.npz|\\.safetensors)$`);
  const found: string[] = [];
  const walk = (d: string, depth: number): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory() && depth < 4 && !name.startsWith('.')) walk(p, depth + 1);
      else if (st.isFile() && re.test(name)) found.push(p);
    }
  };
  walk(dir, 0);
  if (found.length > 1) {
    throw new Error(
      `several statistics files for ${moduleName} under ${dir}: ${found.map((f) => basename(f)).join(', ')}; pass the file itself`,
    );
  }
  return found[0] ?? null;
}
