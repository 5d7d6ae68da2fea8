/**
 * safetensors reader and writer: a validating header parser, per-tensor streaming reads straight into
 * typed arrays (f16/bf16/f64 converted chunk by chunk) and atomic, streaming writes.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Tensor, f16ToNumber, getBackend, numberToBf16, numberToF16 } from '../tensor/index.js';
import type { DType, Storage } from '../tensor/index.js';

/** Largest header the reader accepts (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Largest single read or write handed to the OS (reads above 2 GiB fail on some platforms). */
const MAX_IO_BYTES = 1 << 30;
/** Scratch buffer size for converting reads (a multiple of every item size). */
const CONVERT_CHUNK_BYTES = 8 << 20;

/** Every error the reader or writer raises for a bad file; the message starts with the file path. */
export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  readonly file: string;
  readonly tensor: string | undefined;
  constructor(file: string, detail: string, tensor?: string, options?: ErrorOptions) {
    super(`${file}: ${tensor !== undefined ? `tensor "${clip(tensor)}": ` : ''}${detail}`, options);
    this.file = file;
    this.tensor = tensor;
  }
}

function clip(s: string, n = 200): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Bits per element of every dtype the safetensors format defines (Map: no prototype lookups). */
const FORMAT_DTYPE_BITS: ReadonlyMap<string, number> = new Map([
  ['BOOL', 8],
  ['F4', 4],
  ['F6_E2M3', 6],
  ['F6_E3M2', 6],
  ['U8', 8],
  ['I8', 8],
  ['F8_E5M2', 8],
  ['F8_E4M3', 8],
  ['F8_E8M0', 8],
  ['I16', 16],
  ['U16', 16],
  ['F16', 16],
  ['BF16', 16],
  ['I32', 32],
  ['U32', 32],
  ['F32', 32],
  ['F64', 64],
  ['C64', 64],
  ['I64', 64],
  ['U64', 64],
]);

/** The file dtypes lmedit loads. */
export const READABLE_DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL'] as const;
export type ReadableDType = (typeof READABLE_DTYPES)[number];

const TENSOR_TO_FILE_DTYPE: Readonly<Record<DType, string>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int32: 'I32',
  uint8: 'U8',
};

const TENSOR_ITEMSIZE: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  uint8: 1,
};

/** One tensor entry of a validated header. Offsets are relative to the start of the data area. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  /** the file's dtype code, e.g. "F32", "BF16" */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly dataOffsets: readonly [number, number];
  readonly byteLength: number;
}

/** A validated header: every tensor entry (header order), the metadata and the file layout. */
export interface SafetensorsHeader {
  readonly path: string;
  readonly fileSize: number;
  readonly headerLength: number;
  /** absolute file offset of the data area (8 + headerLength) */
  readonly dataStart: number;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Float dtype tensors are loaded as: 'keep' = as stored; otherwise every float tensor is converted to it. */
export type LoadDType = 'float32' | 'keep' | 'bfloat16' | 'float16';

export interface LoadSafetensorsOptions {
  /** Float tensors' dtype after loading (default 'float32'). Integer tensors stay integer (I64 -> int32). */
  dtype?: LoadDType;
  /** Load only the tensors for which this returns true (the header is still validated in full). */
  names?: (name: string) => boolean;
}

export interface LoadedSafetensors {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
  header: SafetensorsHeader;
  /** Bytes of tensor storage allocated (never more than twice the file size). */
  bytesAllocated: number;
}

// ---- header ------------------------------------------------------------------------------

function openForRead(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new SafetensorsError(path, `cannot open: ${(e as Error).message}`, undefined, { cause: e });
  }
}

function readFully(fd: number, path: string, target: Uint8Array, position: number, tensor?: string): void {
  let done = 0;
  while (done < target.length) {
    const len = Math.min(target.length - done, MAX_IO_BYTES);
    let n: number;
    try {
      n = readSync(fd, target, done, len, position + done);
    } catch (e) {
      throw new SafetensorsError(path, `read failed at byte ${position + done}: ${(e as Error).message}`, tensor, { cause: e });
    }
    if (n === 0) {
      throw new SafetensorsError(
        path,
        `unexpected end of file at byte ${position + done} (the file shrank while reading?)`,
        tensor,
      );
    }
    done += n;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateEntry(path: string, name: string, v: unknown, dataSize: number): SafetensorsTensorInfo {
  const fail = (msg: string): never => {
    throw new SafetensorsError(path, msg, name);
  };
  if (!isPlainObject(v)) return fail('header entry is not an object');
  const dtype = v['dtype'];
  if (typeof dtype !== 'string') return fail('"dtype" is missing or not a string');
  const bits = FORMAT_DTYPE_BITS.get(dtype);
  if (bits === undefined) return fail(`unknown dtype "${clip(dtype, 40)}"`);
  const shapeV = v['shape'];
  if (!Array.isArray(shapeV)) return fail('"shape" is missing or not an array');
  const shape: number[] = [];
  let hasZero = false;
  for (const d of shapeV as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      return fail(`shape ${clip(JSON.stringify(shapeV), 80)} has a dimension that is not a non-negative integer`);
    }
    if (d === 0) hasZero = true;
    shape.push(d);
  }
  const offs = v['data_offsets'];
  if (!Array.isArray(offs) || offs.length !== 2) return fail('"data_offsets" is missing or not a [begin, end] pair');
  const [begin, end] = offs as unknown[];
  if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end)) {
    return fail(`data_offsets ${clip(JSON.stringify(offs), 80)} are not integers`);
  }
  if (begin < 0 || end < 0) return fail(`data_offsets [${begin}, ${end}] are negative`);
  if (begin > end) return fail(`data_offsets [${begin}, ${end}] have begin > end`);
  if (end > dataSize) return fail(`data_offsets [${begin}, ${end}] run past the end of the data area (${dataSize} bytes)`);
  const byteLength = end - begin;
  // size in bits, stopping once it leaves the exactly representable range (then it cannot match)
  const limitBits = byteLength * 8;
  let bitsTotal = 0;
  let overflow = false;
  if (!hasZero) {
    bitsTotal = bits;
    for (const d of shape) {
      bitsTotal *= d;
      if (bitsTotal > Number.MAX_SAFE_INTEGER) {
        overflow = true;
        break;
      }
    }
  }
  if (overflow || bitsTotal !== limitBits) {
    const shown = overflow ? `more than ${byteLength}` : `${bitsTotal / 8}`;
    return fail(
      `shape [${clip(shape.join(', '), 80)}] of ${dtype} needs ${shown} bytes but data_offsets [${begin}, ${end}] hold ${byteLength}`,
    );
  }
  return { name, dtype, shape, dataOffsets: [begin, end], byteLength };
}

function parseHeader(fd: number, path: string): SafetensorsHeader {
  let fileSize: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    fileSize = st.size;
  } catch (e) {
    throw new SafetensorsError(path, `cannot stat: ${(e as Error).message}`, undefined, { cause: e });
  }
  if (fileSize < 8) throw new SafetensorsError(path, `file is ${fileSize} bytes, too short for the 8-byte header length`);
  const lenBuf = Buffer.alloc(8);
  readFully(fd, path, lenBuf, 0);
  const headerLen64 = lenBuf.readBigUInt64LE(0);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      path,
      `header length ${headerLen64} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
    );
  }
  const headerLength = Number(headerLen64);
  if (headerLength > fileSize - 8) {
    throw new SafetensorsError(path, `header length ${headerLength} exceeds the file size ${fileSize} - 8 (truncated file?)`);
  }
  if (headerLength < 2) throw new SafetensorsError(path, `header length ${headerLength} is too small for a JSON object`);
  const raw = Buffer.alloc(headerLength);
  readFully(fd, path, raw, 8);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch (e) {
    throw new SafetensorsError(path, 'header is not valid UTF-8', undefined, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(path, `header is not valid JSON: ${(e as Error).message}`, undefined, { cause: e });
  }
  if (!isPlainObject(json)) throw new SafetensorsError(path, 'header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  const metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(v)) throw new SafetensorsError(path, '"__metadata__" is not an object');
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw new SafetensorsError(path, `"__metadata__" value for "${clip(k, 80)}" is not a string`);
        Object.defineProperty(metadata, k, { value: s, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    tensors.set(name, validateEntry(path, name, v, dataSize));
  }
  // no two non-empty tensors may share bytes
  const byOffset = [...tensors.values()].filter((t) => t.byteLength > 0).sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1]!;
    const cur = byOffset[i]!;
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new SafetensorsError(
        path,
        `data_offsets [${cur.dataOffsets.join(', ')}] overlap tensor "${clip(prev.name)}" [${prev.dataOffsets.join(', ')}]`,
        cur.name,
      );
    }
  }
  return { path, fileSize, headerLength, dataStart, tensors, metadata };
}

/**
 * Reads and validates a safetensors header without loading any tensor data.
 * @example
 * const h = readSafetensorsHeader('model.safetensors');
 * for (const t of h.tensors.values()) console.log(t.name, t.dtype, t.shape);
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openForRead(path);
  try {
    return parseHeader(fd, path);
  } finally {
    closeSync(fd);
  }
}

// ---- conversion --------------------------------------------------------------------------

let f16Table: Float32Array | null = null;
/** f16 bits -> f32 value, for all 65536 patterns (built on first use). */
function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      f16Table[h] = f16ToNumber(h);
    }
  }
  return f16Table;
}

/** f32 bits -> bf16 bits, round to nearest even, NaN kept NaN (same rule as numberToBf16). */
function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function targetDtype(src: ReadableDType, want: LoadDType): DType {
  switch (src) {
    case 'I64':
    case 'I32':
      return 'int32';
    case 'U8':
    case 'BOOL':
      return 'uint8';
    case 'F32':
      return want === 'keep' ? 'float32' : want;
    case 'F64':
      return want === 'keep' ? 'float64' : want;
    case 'F16':
      return want === 'keep' ? 'float16' : want;
    case 'BF16':
      return want === 'keep' ? 'bfloat16' : want;
  }
}

/** True when the file bytes are already the target storage's bytes (read straight into it). */
function isDirect(src: ReadableDType, dst: DType): boolean {
  return TENSOR_TO_FILE_DTYPE[dst] === src || (src === 'BOOL' && dst === 'uint8');
}

function isReadable(d: string): d is ReadableDType {
  return (READABLE_DTYPES as readonly string[]).includes(d);
}

/** Converts count elements of src dtype (at the start of scratch) into dst[at ...]. */
function convertChunk(
  path: string,
  info: SafetensorsTensorInfo,
  src: ReadableDType,
  scratch: ArrayBuffer,
  count: number,
  dstDtype: DType,
  dst: Storage,
  at: number,
): void {
  if (src === 'I64') {
    const s = new Int32Array(scratch, 0, count * 2);
    const d = dst as Int32Array;
    for (let i = 0; i < count; i++) {
      const lo = s[2 * i]!;
      const hi = s[2 * i + 1]!;
      if (hi !== lo >> 31) {
        const value = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
        throw new SafetensorsError(path, `I64 element ${at + i} = ${value} does not fit in int32`, info.name);
      }
      d[at + i] = lo;
    }
    return;
  }
  if (src === 'F16' || src === 'BF16') {
    const s = new Uint16Array(scratch, 0, count);
    if (dstDtype === 'float32') {
      if (src === 'BF16') {
        const d = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
        for (let i = 0; i < count; i++) d[at + i] = s[i]! << 16;
      } else {
        const table = f16ToF32Table();
        const d = dst as Float32Array;
        for (let i = 0; i < count; i++) d[at + i] = table[s[i]!]!;
      }
    } else if (dstDtype === 'float64') {
      const d = dst as Float64Array;
      if (src === 'F16') {
        const table = f16ToF32Table();
        for (let i = 0; i < count; i++) d[at + i] = table[s[i]!]!;
      } else {
        const t32 = new Float32Array(1);
        const u32 = new Uint32Array(t32.buffer);
        for (let i = 0; i < count; i++) {
          u32[0] = s[i]! << 16;
          d[at + i] = t32[0]!;
        }
      }
    } else if (dstDtype === 'bfloat16') {
      // F16 -> BF16 (BF16 -> BF16 is a direct read)
      const bits = new Uint32Array(f16ToF32Table().buffer);
      const d = dst as Uint16Array;
      for (let i = 0; i < count; i++) d[at + i] = f32BitsToBf16(bits[s[i]!]!);
    } else {
      // BF16 -> F16
      const d = dst as Uint16Array;
      const t32 = new Float32Array(1);
      const u32 = new Uint32Array(t32.buffer);
      for (let i = 0; i < count; i++) {
        u32[0] = s[i]! << 16;
        d[at + i] = numberToF16(t32[0]!);
      }
    }
    return;
  }
  if (src === 'F32') {
    const d = dst as Uint16Array;
    if (dstDtype === 'bfloat16') {
      const s = new Uint32Array(scratch, 0, count);
      for (let i = 0; i < count; i++) d[at + i] = f32BitsToBf16(s[i]!);
    } else {
      const s = new Float32Array(scratch, 0, count);
      for (let i = 0; i < count; i++) d[at + i] = numberToF16(s[i]!);
    }
    return;
  }
  if (src === 'F64') {
    const s = new Float64Array(scratch, 0, count);
    if (dstDtype === 'float32') (dst as Float32Array).set(s, at);
    else {
      const d = dst as Uint16Array;
      const enc = dstDtype === 'bfloat16' ? numberToBf16 : numberToF16;
      for (let i = 0; i < count; i++) d[at + i] = enc(s[i]!);
    }
    return;
  }
  throw new SafetensorsError(path, `internal: no conversion from ${src} to ${dstDtype}`, info.name);
}

// ---- loading -----------------------------------------------------------------------------

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('lmedit safetensors I/O requires a little-endian host');
}

/**
 * Loads tensors from a safetensors file. Each tensor is read straight from the file into its own
 * typed array (converted chunk by chunk when the dtype changes), so memory peaks at the loaded
 * tensors plus an 8 MiB scratch buffer. Throws SafetensorsError on any malformed input.
 * @example
 * const { tensors, metadata } = loadSafetensors('model.safetensors', { dtype: 'keep' });
 * const wte = tensors.get('transformer.wte.weight');
 */
export function loadSafetensors(path: string, opts: LoadSafetensorsOptions = {}): LoadedSafetensors {
  assertLittleEndian();
  const want = opts.dtype ?? 'float32';
  if (want !== 'float32' && want !== 'keep' && want !== 'bfloat16' && want !== 'float16') {
    throw new SafetensorsError(path, `dtype option must be 'float32', 'keep', 'bfloat16' or 'float16', got ${String(want)}`);
  }
  const fd = openForRead(path);
  const created = new Map<string, Tensor>();
  try {
    const header = parseHeader(fd, path);
    const plans: { info: SafetensorsTensorInfo; src: ReadableDType; dst: DType; count: number }[] = [];
    let maxConvertBytes = 0;
    let planned = 0;
    for (const info of header.tensors.values()) {
      if (opts.names && !opts.names(info.name)) continue;
      if (!isReadable(info.dtype)) {
        throw new SafetensorsError(
          path,
          `dtype ${info.dtype} is not supported (lmedit reads ${READABLE_DTYPES.join(', ')}); ` +
            'convert the checkpoint or skip this tensor with the `names` option',
          info.name,
        );
      }
      const src = info.dtype;
      const dst = targetDtype(src, want);
      const count = info.byteLength / itemBytes(src);
      planned += count * TENSOR_ITEMSIZE[dst];
      if (!isDirect(src, dst)) maxConvertBytes = Math.max(maxConvertBytes, info.byteLength);
      plans.push({ info, src, dst, count });
    }
    // validation bounds every tensor by its byte range; re-check that invariant before allocating anything
    if (planned > 2 * header.fileSize) {
      throw new SafetensorsError(path, `internal: planned allocation ${planned} bytes exceeds twice the file size`);
    }
    const scratch =
      maxConvertBytes > 0 ? new ArrayBuffer(Math.min(CONVERT_CHUNK_BYTES, Math.ceil(maxConvertBytes / 8) * 8)) : null;
    // read in file order (sequential I/O); the result map keeps header order
    for (const p of [...plans].sort((a, b) => a.info.dataOffsets[0] - b.info.dataOffsets[0])) {
      const { info, src, dst, count } = p;
      let storage: Storage;
      try {
        storage = getBackend().alloc(dst, count);
      } catch (e) {
        throw new SafetensorsError(path, `cannot allocate ${count} ${dst} elements: ${(e as Error).message}`, info.name, {
          cause: e,
        });
      }
      const t = Tensor.fromStorage(storage, dst, info.shape);
      t.name = info.name;
      created.set(info.name, t);
      const start = header.dataStart + info.dataOffsets[0];
      if (isDirect(src, dst)) {
        readFully(fd, path, new Uint8Array(storage.buffer, storage.byteOffset, info.byteLength), start, info.name);
        continue;
      }
      const size = itemBytes(src);
      const perChunk = Math.floor(scratch!.byteLength / size);
      for (let done = 0; done < count;) {
        const n = Math.min(perChunk, count - done);
        readFully(fd, path, new Uint8Array(scratch!, 0, n * size), start + done * size, info.name);
        convertChunk(path, info, src, scratch!, n, dst, storage, done);
        done += n;
      }
    }
    const tensors = new Map<string, Tensor>();
    for (const p of plans) tensors.set(p.info.name, created.get(p.info.name)!);
    return { tensors, metadata: { ...header.metadata }, header, bytesAllocated: planned };
  } catch (e) {
    for (const t of created.values()) t.dispose();
    throw e;
  } finally {
    closeSync(fd);
  }
}

function itemBytes(src: ReadableDType): number {
  return (FORMAT_DTYPE_BITS.get(src) ?? 8) / 8;
}

// ---- writing -----------------------------------------------------------------------------

export interface SaveSafetensorsOptions {
  /** Called after each tensor is written (throwing aborts the save; the target file is untouched). */
  onProgress?: (p: { tensor: string; bytesWritten: number; totalBytes: number }) => void;
}

function writeFully(fd: number, path: string, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    const len = Math.min(bytes.length - done, MAX_IO_BYTES);
    try {
      done += writeSync(fd, bytes, done, len);
    } catch (e) {
      throw new SafetensorsError(path, `write failed: ${(e as Error).message}`, undefined, { cause: e });
    }
  }
}

/** A contiguous copy of a strided view's elements (row-major). */
function gather(t: Tensor): Storage {
  const src = t.storage;
  const out = getBackend().alloc(t.dtype, t.size);
  if (t.size === 0) return out;
  const rank = t.rank;
  if (rank === 0) {
    out[0] = src[t.offset]!;
    return out;
  }
  const shape = t.shape;
  const strides = t.strides;
  const inner = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  const rows = t.size / inner;
  let base = t.offset;
  let o = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0, s = base; j < inner; j++, s += innerStride) out[o++] = src[s]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]! += 1;
      base += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      base -= idx[d]! * strides[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** The bytes of t in row-major order: a view of its storage when contiguous, else a per-tensor copy. */
function tensorBytes(t: Tensor): Uint8Array {
  const itemsize = TENSOR_ITEMSIZE[t.dtype];
  const s = t.isContiguous() ? t.storage : gather(t);
  const off = t.isContiguous() ? t.offset : 0;
  return new Uint8Array(s.buffer, s.byteOffset + off * itemsize, t.size * itemsize);
}

/** Makes a rename durable (best effort: not every platform can open a directory). */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // durability hint only
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * Writes tensors (each keeping its dtype) to a safetensors file atomically: the data streams into a
 * temporary file in the same directory, which is renamed over `path` only once complete and synced.
 * @example
 * saveSafetensors('edited.safetensors', { 'transformer.h.0.mlp.c_proj.weight': w }, { format: 'pt' });
 */
export function saveSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
  opts: SaveSafetensorsOptions = {},
): void {
  assertLittleEndian();
  const entries: [string, Tensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError(path, 'the name "__metadata__" is reserved', name);
    if (!(t instanceof Tensor)) throw new SafetensorsError(path, 'value is not a Tensor', name);
    t.assertAlive(`saveSafetensors("${name}")`);
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(path, `metadata value for "${k}" is not a string`);
    }
  }
  // larger items first, then by name (the reference writer's order): every tensor stays aligned
  entries.sort(([an, at], [bn, bt]) => TENSOR_ITEMSIZE[bt.dtype] - TENSOR_ITEMSIZE[at.dtype] || (an < bn ? -1 : an > bn ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header['__metadata__'] = { ...metadata };
  let offset = 0;
  for (const [name, t] of entries) {
    const n = t.size * TENSOR_ITEMSIZE[t.dtype];
    Object.defineProperty(header, name, {
      value: { dtype: TENSOR_TO_FILE_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + n] },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    offset += n;
  }
  const totalBytes = offset;
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
  json.copy(padded);
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(padded.length));

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    try {
      fd = openSync(tmp, 'wx');
    } catch (e) {
      throw new SafetensorsError(path, `cannot create a temporary file next to it: ${(e as Error).message}`, undefined, {
        cause: e,
      });
    }
    writeFully(fd, path, lenBuf);
    writeFully(fd, path, padded);
    let written = 0;
    for (const [name, t] of entries) {
      const bytes = tensorBytes(t);
      writeFully(fd, path, bytes);
      written += bytes.length;
      opts.onProgress?.({ tensor: name, bytesWritten: written, totalBytes });
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
    syncDir(dirname(path));
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw e;
  }
}
