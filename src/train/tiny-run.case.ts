/**
 * Test fixture: a tiny, fast training run (a GPT-2 of 2 layers, 32 wide, on 24 short synthetic
 * documents) shared by the resume tests and the child process they SIGKILL.
 */
import * as T from '../tensor/index.js';
import { smallModelConfig } from './init.js';
import type { TrainOptions } from './train.js';

export const TINY_STEPS = 30;

export function tinyDocuments(): number[][] {
  const rng = new T.Rng(7);
  return Array.from({ length: 24 }, () => Array.from({ length: 3 + rng.nextInt(8) }, () => 3 + rng.nextInt(45)));
}

/** Options of the tiny run; `extra` overrides (e.g. checkpointDir, signal). */
export function tinyRun(extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    config: smallModelConfig({
      arch: 'gpt2',
      vocabSize: 48,
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 2,
      maxPositions: 16,
      bosTokenId: 1,
      eosTokenId: 2,
    }),
    documents: tinyDocuments(),
    steps: TINY_STEPS,
    batchSize: 4,
    seqLen: 12,
    lr: 3e-3,
    warmupSteps: 5,
    weightDecay: 0.1,
    maxGradNorm: 0.5,
    seed: 3,
    checkpointEvery: 4,
    progressEvery: 1,
    ...extra,
  };
}

/** Every parameter's bytes, for bitwise comparison. */
export function paramBytes(params: ReadonlyMap<string, T.Tensor>): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [name, p] of params) {
    const s = p.storage as Float32Array;
    out.set(name, new Uint8Array(s.buffer, s.byteOffset + p.offset * 4, p.size * 4).slice());
  }
  return out;
}
