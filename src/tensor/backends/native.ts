/**
 * The native backend's public entry point; the implementation lives in ./native/ (addon shape,
 * loading, argument checks, parameter packing, buffer pool, backend).
 */
export { nativeLoadError } from './native/load.js';
export { loadNativeBackend, nativeBackend, type NativeBackend } from './native/backend.js';
export { drainBufferPool, pooledBytes, withoutBufferPool } from './native/pool.js';
