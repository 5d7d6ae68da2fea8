/**
 * @module lmedit — edit facts inside large language models and measure what each edit costs.
 * Sub-modules: `lmedit/tensor` (re-exported here as `T`), `lmedit/models`, `lmedit/io`,
 * `lmedit/tokenizer`.
 */
export * as T from './tensor/index.js';
export * from './models/index.js';
export { loadTokenizer, type Tokenizer } from './tokenizer/index.js';
export { loadSafetensors, saveSafetensors, readSafetensorsHeader, SafetensorsError } from './io/safetensors.js';
export { loadCheckpoint } from './io/sharded.js';
export { resolveModelDir } from './io/hf-hub.js';
export { doctor, type DoctorReport } from './cli/doctor.js';
