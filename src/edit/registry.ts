/**
 * Method name -> lazy import of its folder (a method's facts — hparams, presets, whether it
 * batches — live in its folder, not here), and preset lookup by model.
 */
import type { CausalLM } from '../models/types.js';
import type { EditMethod } from './types.js';

/** A method with its hyperparameter type erased (each method validates its own). */
export type AnyEditMethod = EditMethod<unknown>;

const METHODS: Record<string, () => Promise<AnyEditMethod>> = {
  rome: async () => (await import('./rome/index.js')).rome as AnyEditMethod,
  'r-rome': async () => (await import('./rome/index.js')).rRome as AnyEditMethod,
  memit: async () => (await import('./memit/index.js')).memit as AnyEditMethod,
  'ft-l': async () => (await import('./ft/index.js')).ftL as AnyEditMethod,
  'ft-m': async () => (await import('./ft/index.js')).ftM as AnyEditMethod,
  mend: async () => (await import('./mend/index.js')).mend as AnyEditMethod,
  kn: async () => (await import('./kn/index.js')).kn as AnyEditMethod,
};

export const METHOD_NAMES = Object.keys(METHODS);

/** Load a method by its CLI name (rome, r-rome, memit, ft-l, ft-m). */
export async function getMethod(name: string): Promise<AnyEditMethod> {
  const load = METHODS[name.toLowerCase()];
  if (!load) throw new Error(`unknown method "${name}" (available: ${METHOD_NAMES.join(', ')})`);
  return load();
}

/**
 * The preset key for a model, from its shape: the paper's models by their dimensions, the
 * golden tiny models and stories260K by theirs. Null when nothing fits (pass --hparams).
 */
export function presetKeyFor(model: CausalLM): string | null {
  const c = model.config;
  if (c.arch === 'gpt2' && c.numLayers === 48 && c.hiddenSize === 1600) return 'gpt2-xl';
  if (c.arch === 'gptj' && c.numLayers === 28 && c.hiddenSize === 4096) return 'gpt-j-6b';
  if (c.arch === 'llama' && c.numLayers === 32 && c.hiddenSize === 4096) return 'llama-2-7b';
  if (c.arch === 'llama' && c.numLayers === 5 && c.hiddenSize === 64 && c.vocabSize === 512) return 'stories260K';
  if (c.arch === 'gpt2' && c.numLayers === 4 && c.hiddenSize === 64) return 'tiny-gpt2';
  if (c.arch === 'llama' && c.numLayers === 4 && c.hiddenSize === 64) return 'tiny-llama';
  return null;
}
