/**
 * Backend selection: the native addon when it loads, the pure-TypeScript reference otherwise.
 * Override with the environment variable LMEDIT_BACKEND=native|reference or `setBackend()`.
 */
import type { Backend } from './backend.js';
import { referenceBackend } from './backends/reference/index.js';
import { drainBufferPool, loadNativeBackend, nativeLoadError, pooledBytes, withoutBufferPool } from './backends/native.js';

export type BackendName = 'native' | 'reference';

let current: Backend | null = null;

function resolve(name: string | undefined): Backend {
  if (name === 'reference') return referenceBackend;
  const native = loadNativeBackend();
  if (name === 'native') {
    if (!native) {
      throw new Error(
        `LMEDIT_BACKEND=native but the native addon did not load: ${nativeLoadError() ?? 'unknown reason'}. ` +
          'Run `npm run build:native` to see the build error.',
      );
    }
    return native;
  }
  if (name !== undefined && name !== '' && name !== 'auto') {
    throw new Error(`LMEDIT_BACKEND must be "native", "reference" or "auto", got "${name}"`);
  }
  return native ?? referenceBackend;
}

/** The backend tensors compute with (chosen on first use). */
export function getBackend(): Backend {
  if (!current) current = resolve(process.env['LMEDIT_BACKEND']);
  return current;
}

/**
 * Switch backends. Tensors keep their plain typed-array storage, so tensors created under one
 * backend stay usable under the other.
 */
export function setBackend(name: BackendName | 'auto'): Backend {
  current = resolve(name);
  return current;
}

/** Run fn with a given backend, restoring the previous one afterwards. */
export function withBackend<T>(name: BackendName, fn: () => T): T {
  const prev = getBackend();
  current = resolve(name);
  try {
    return fn();
  } finally {
    current = prev;
  }
}

/** Why the native addon did not load (null when it loads; asking tries to load it). */
export function nativeLoadErrorMessage(): string | null {
  return nativeLoadError();
}

/**
 * Free the large buffers the native backend keeps for reuse (freed tensors of sizes that
 * recur; up to LMEDIT_POOL_MB, default a sixth of RAM capped at 4096 MiB), e.g. before a phase
 * needing a lot of memory.
 * Returns the bytes freed.
 */
export function releaseBufferPool(): number {
  return loadNativeBackend() ? drainBufferPool() : 0;
}

/** Bytes the native backend's buffer pool holds for reuse. */
export function bufferPoolBytes(): number {
  return loadNativeBackend() ? pooledBytes() : 0;
}

/** Run fn with freed buffers returned to the system at once (not kept for reuse). */
export function withoutBufferReuse<R>(fn: () => R): R {
  return withoutBufferPool(fn);
}
