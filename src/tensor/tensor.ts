/**
 * Tensor: a dtype, a shape and strided view over a reference-counted flat storage, plus the
 * autograd fields. Memory lifetime is explicit: `dispose()` and `tidy()` free storage at once
 * (the native backend detaches the ArrayBuffer), `liveBytes()` counts what is still held.
 */
import type { DType, Storage } from './backend.js';
import { bytesPerElement, readElement, storageMatches } from './dtype.js';
import { getBackend } from './select.js';

/** One flat buffer shared by a tensor and its views. */
export class StorageBox {
  refs = 0;
  released = false;
  readonly bytes: number;
  constructor(
    readonly data: Storage,
    readonly dtype: DType,
    /** external storage (e.g. a memory-mapped file) is counted but never released by us */
    readonly external = false,
  ) {
    this.bytes = data.length * bytesPerElement(dtype);
    live.bytes += this.bytes;
    live.buffers += 1;
  }
  retain(): void {
    this.refs += 1;
  }
  releaseRef(): void {
    this.refs -= 1;
    if (this.refs === 0 && !this.released) {
      this.released = true;
      live.bytes -= this.bytes;
      live.buffers -= 1;
      if (!this.external) getBackend().release(this.data);
    }
  }
}

const live = { bytes: 0, buffers: 0, tensors: 0 };

/** Bytes of tensor storage currently allocated and not disposed. */
export function liveBytes(): number {
  return live.bytes;
}

/** Counters for leak checks: bytes, buffers and tensor objects still alive. */
export function memoryStats(): { bytes: number; buffers: number; tensors: number } {
  return { ...live };
}

/** A node of the autograd tape: how to turn the output's gradient into the inputs'. */
export interface GradNode {
  op: string;
  inputs: readonly Tensor[];
  /** g has the output's shape; returns one gradient (or null = none) per input. */
  backward(g: Tensor): (Tensor | null)[];
}

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

// ---- scopes ------------------------------------------------------------------------------

const scopes: Set<Tensor>[] = [];

/**
 * Run fn and dispose every tensor created inside it except those it returns (found in the
 * returned value, arrays and plain objects included), which move to the enclosing scope.
 * @example const y = tidy(() => T.gelu(T.matmul(x, w))); // intermediates freed here
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const kept = new Set<Tensor>();
  collectTensors(result, kept, 0);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

function collectTensors(v: unknown, out: Set<Tensor>, depth: number): void {
  if (depth > 6 || v === null || typeof v !== 'object') return;
  if (v instanceof Tensor) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) collectTensors(x, out, depth + 1);
    return;
  }
  if (v instanceof Map) {
    for (const x of v.values()) collectTensors(x, out, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) collectTensors(x, out, depth + 1);
  }
}

/** Take t out of every enclosing scope so `tidy` never disposes it; the caller owns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

// ---- the tensor --------------------------------------------------------------------------

export class Tensor {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly box: StorageBox;
  readonly size: number;
  /** Leaf tensors with requiresGrad receive `.grad` from `backward()`. */
  requiresGrad = false;
  grad: Tensor | null = null;
  /** Set on tensors produced by a recorded op. */
  node: GradNode | null = null;
  /** Optional name used in error messages (parameters carry their HF name). */
  name: string | undefined;
  private disposedFlag = false;

  constructor(box: StorageBox, shape: Shape, strides?: Shape, offset = 0) {
    this.box = box;
    this.dtype = box.dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    this.size = shapeSize(shape);
    box.retain();
    live.tensors += 1;
    scopes[scopes.length - 1]?.add(this);
  }

  /** A new zero-filled contiguous tensor. */
  static zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`zeros: invalid shape ${fmtShape(shape)}`);
    }
    return new Tensor(new StorageBox(getBackend().alloc(dtype, shapeSize(shape)), dtype), shape);
  }

  /**
   * A new contiguous tensor with unspecified contents (may be a recycled buffer): only for the
   * output of a kernel that writes every element.
   */
  static uninit(shape: Shape, dtype: DType = 'float32'): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`uninit: invalid shape ${fmtShape(shape)}`);
    }
    const be = getBackend();
    const n = shapeSize(shape);
    return new Tensor(new StorageBox(be.allocUninit ? be.allocUninit(dtype, n) : be.alloc(dtype, n), dtype), shape);
  }

  /** Wrap an existing array (no copy). The tensor takes ownership of it. */
  static fromStorage(data: Storage, dtype: DType, shape: Shape, opts: { external?: boolean } = {}): Tensor {
    if (!storageMatches(dtype, data)) {
      throw new Error(`fromStorage: a ${data.constructor.name} cannot hold ${dtype}`);
    }
    if (data.length !== shapeSize(shape)) {
      throw new Error(`fromStorage: ${data.length} elements do not fill shape ${fmtShape(shape)}`);
    }
    return new Tensor(new StorageBox(data, dtype, opts.external ?? false), shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.disposedFlag;
  }

  /** The underlying flat array (shared with views; honour offset and strides). */
  get storage(): Storage {
    this.assertAlive('storage');
    return this.box.data;
  }

  isContiguous(): boolean {
    let acc = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== acc) return false;
      acc *= this.shape[i]!;
    }
    return true;
  }

  /** True when this view covers its whole storage contiguously from offset 0. */
  isWholeStorage(): boolean {
    return this.offset === 0 && this.isContiguous() && this.size === this.box.data.length;
  }

  assertAlive(op: string): void {
    if (this.disposedFlag || this.box.released) {
      throw new Error(`${op}: tensor${this.name ? ` "${this.name}"` : ''} ${fmtShape(this.shape)} was disposed`);
    }
  }

  /** Free this tensor's reference to its storage (freed when no view uses it). Idempotent. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    live.tensors -= 1;
    this.node = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    this.box.releaseRef();
  }

  /** `using t = ...` frees the tensor at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Element at a multi-index (slow; for tests and small reads). */
  at(...index: number[]): number {
    this.assertAlive('at');
    if (index.length !== this.rank) throw new Error(`at: ${index.length} indices for a rank-${this.rank} tensor`);
    let off = this.offset;
    for (let i = 0; i < index.length; i++) {
      const ix = index[i]!;
      if (ix < 0 || ix >= this.shape[i]!) throw new Error(`at: index ${ix} out of range for dim ${i} of ${fmtShape(this.shape)}`);
      off += ix * this.strides[i]!;
    }
    return readElement(this.dtype, this.box.data, off);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor has ${this.size} elements, not 1`);
    return this.at(...new Array<number>(this.rank).fill(0));
  }

  /** All values in row-major order as numbers (f16/bf16 decoded). */
  toArray(): number[] {
    this.assertAlive('toArray');
    const out = new Array<number>(this.size);
    const idx = new Array<number>(this.rank).fill(0);
    let off = this.offset;
    for (let n = 0; n < this.size; n++) {
      out[n] = readElement(this.dtype, this.box.data, off);
      for (let d = this.rank - 1; d >= 0; d--) {
        idx[d]! += 1;
        off += this.strides[d]!;
        if (idx[d]! < this.shape[d]!) break;
        off -= idx[d]! * this.strides[d]!;
        idx[d] = 0;
      }
    }
    return out;
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** A view sharing t's storage (no autograd; callers record it). */
export function viewOf(t: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  t.assertAlive('view');
  return new Tensor(t.box, shape, strides, offset);
}
