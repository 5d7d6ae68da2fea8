/**
 * @module lmedit — edit facts inside large language models and measure what each edit costs.
 * The numerical core (tensors, autograd, kernels) is re-exported as `T`.
 */
export * as T from './tensor/index.js';
export { doctor, type DoctorReport } from './cli/doctor.js';
