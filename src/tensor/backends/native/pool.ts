/** The buffer pool behind the native backend's alloc/allocUninit/release. */
import { totalmem } from 'node:os';

import type { DType, Storage } from '../../backend.js';
import { lib } from './load.js';

/**
 * Freed buffers kept for reuse, by dtype and exact length. A fresh large allocation costs a
 * page fault per 4 KiB on first touch (and an munmap on release), which made kernels writing
 * new outputs up to twice slower; a recycled buffer is zeroed by all threads instead. Shapes
 * repeat across layers and steps, so exact-length matching suffices. Bounded by
 * LMEDIT_POOL_MB (default: a sixth of RAM, at most 4096; 0 disables); the oldest go first.
 */
class BufferPool {
  private readonly free = new Map<string, Storage[]>();
  /** insertion order = age, for eviction */
  private readonly order: Storage[] = [];
  private bytes = 0;
  /** buffers below this size come cheaply from V8's allocator */
  static readonly MIN_BYTES = 1 << 18;

  constructor(readonly capBytes: number) {}

  take(dtype: DType, n: number): Storage | null {
    if (this.bytes === 0) return null;
    const key = storageKey(STORAGE_CLASS[dtype], n);
    const list = this.free.get(key);
    const buf = list?.pop();
    if (!list || !buf) return null;
    if (list.length === 0) this.free.delete(key);
    this.order.splice(this.order.lastIndexOf(buf), 1);
    this.bytes -= buf.byteLength;
    return buf;
  }

  /** Keep `buf` for reuse; returns the buffers to free now (it, or evicted old ones). */
  put(buf: Storage): Storage[] {
    if (buf.byteLength < BufferPool.MIN_BYTES || buf.byteLength > this.capBytes) return [buf];
    const out: Storage[] = [];
    while (this.bytes + buf.byteLength > this.capBytes && this.order.length > 0) {
      const old = this.order.shift()!;
      const key = storageKey(old.constructor.name, old.length);
      const list = this.free.get(key)!;
      list.splice(list.indexOf(old), 1);
      if (list.length === 0) this.free.delete(key);
      this.bytes -= old.byteLength;
      out.push(old);
    }
    const key = storageKey(buf.constructor.name, buf.length);
    const list = this.free.get(key);
    if (list) list.push(buf);
    else this.free.set(key, [buf]);
    this.order.push(buf);
    this.bytes += buf.byteLength;
    return out;
  }

  /** Forget every pooled buffer; returns them for freeing. */
  drain(): Storage[] {
    this.free.clear();
    this.bytes = 0;
    return this.order.splice(0);
  }

  get pooledBytes(): number {
    return this.bytes;
  }
}

const STORAGE_CLASS: Record<DType, string> = {
  float32: 'Float32Array',
  float64: 'Float64Array',
  float16: 'Uint16Array',
  bfloat16: 'Uint16Array',
  int32: 'Int32Array',
  uint8: 'Uint8Array',
};

function storageKey(cls: string, n: number): string {
  return `${cls}:${n}`;
}

/** Default: a sixth of the machine's memory, at most 4 GiB (a training step's activations). */
function poolCapMB(): number {
  const raw = process.env['LMEDIT_POOL_MB'];
  if (raw === undefined || raw === '') return Math.min(4096, Math.floor(totalmem() / 6 / 2 ** 20));
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`LMEDIT_POOL_MB must be a number of MiB >= 0, got "${raw}"`);
  return v;
}

const pool = new BufferPool(poolCapMB() * 1024 * 1024);

/** Free the buffers the native backend keeps for reuse now (RSS drops); returns the bytes freed. */
export function drainBufferPool(): number {
  let bytes = 0;
  for (const b of pool.drain()) {
    bytes += b.byteLength;
    lib().detach(b.buffer as ArrayBuffer);
  }
  return bytes;
}

let poolPaused = 0;

/** A pooled buffer of exactly n elements of dtype, contents unspecified; null when none is free. */
export function takeBuffer(dtype: DType, n: number): Storage | null {
  return pool.take(dtype, n);
}

/**
 * Take back a whole, unshared buffer: pool it, or free it at once while the pool is paused.
 * Detaching is what returns the memory now instead of at V8's next major GC.
 */
export function releaseBuffer(buf: Storage): void {
  const ab = buf.buffer as ArrayBuffer;
  if (poolPaused > 0) lib().detach(ab);
  else for (const old of pool.put(buf)) lib().detach(old.buffer as ArrayBuffer);
}

/**
 * Run fn with freed buffers released at once instead of pooled (loading a checkpoint: its
 * one-off temporaries must not raise the peak memory).
 */
export function withoutBufferPool<R>(fn: () => R): R {
  poolPaused++;
  try {
    return fn();
  } finally {
    poolPaused--;
  }
}

/** Bytes the buffer pool holds for reuse. */
export function pooledBytes(): number {
  return pool.pooledBytes;
}
