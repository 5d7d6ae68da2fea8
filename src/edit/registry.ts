/**
 * The methods of src/edit by CLI name: ROME and R-ROME (rome/), MEMIT (memit/), FT-L and FT-M
 * (ft/), MEND (mend/) and KN (kn/). Each entry lazily imports its folder (a method's facts —
 * hparams, presets, whether it batches — live in its folder) and says whether the method needs
 * the subject inside the prompt. Also the preset lookup by model.
 */
import { readHParamsFile } from './hparams.js';
import { worldPresetKey } from './shared/world-presets.js';
import type { CausalLM } from '../models/types.js';
import type { EditMethod } from './types.js';

/** A method with its hyperparameter type erased (each method validates its own). */
export type AnyEditMethod = EditMethod<unknown>;

/** One registered method: how to load it, and what the runner checks before an edit. */
interface MethodEntry {
  load: () => Promise<AnyEditMethod>;
  /** the request's `subject` must occur verbatim in its prompt (the methods that locate it) */
  needsSubject: boolean;
}

/** Keyed by CLI name, which is the method's `name` in lower case. */
const METHODS: Record<string, MethodEntry> = {
  rome: { load: async () => (await import('./rome/index.js')).rome as AnyEditMethod, needsSubject: true },
  'r-rome': { load: async () => (await import('./rome/index.js')).rRome as AnyEditMethod, needsSubject: true },
  memit: { load: async () => (await import('./memit/index.js')).memit as AnyEditMethod, needsSubject: true },
  emmet: { load: async () => (await import('./emmet/index.js')).emmet as AnyEditMethod, needsSubject: true },
  alphaedit: { load: async () => (await import('./alphaedit/index.js')).alphaEdit as AnyEditMethod, needsSubject: true },
  'ft-l': { load: async () => (await import('./ft/index.js')).ftL as AnyEditMethod, needsSubject: false },
  'ft-m': { load: async () => (await import('./ft/index.js')).ftM as AnyEditMethod, needsSubject: false },
  mend: { load: async () => (await import('./mend/index.js')).mend as AnyEditMethod, needsSubject: false },
  kn: { load: async () => (await import('./kn/index.js')).kn as AnyEditMethod, needsSubject: false },
};

export const METHOD_NAMES = Object.keys(METHODS);

/** Load a method by its CLI name (rome, r-rome, memit, emmet, alphaedit, ft-l, ft-m, mend, kn). */
export async function getMethod(name: string): Promise<AnyEditMethod> {
  const entry = METHODS[name.toLowerCase()];
  if (!entry) throw new Error(`unknown method "${name}" (available: ${METHOD_NAMES.join(', ')})`);
  return entry.load();
}

/**
 * Whether a method (by CLI name or `EditMethod.name`, any case) needs the subject inside the
 * prompt. False for a method that is not registered (e.g. one built in a test).
 */
export function methodNeedsSubject(name: string): boolean {
  return METHODS[name.toLowerCase()]?.needsSubject ?? false;
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

export { worldPresetKey };

/**
 * A method's hparams: from a file (EasyEdit YAML/JSON), a named preset, or the preset for the model's shape
 * (`world`: the model is a world model, src/world, whose presets are keyed by depth).
 * @example const { hp, source } = resolveHParams(rome, model, { preset: 'gpt2-xl' });
 */
export function resolveHParams(
  method: AnyEditMethod,
  model: CausalLM,
  o: { hparams?: string; preset?: string; world?: boolean },
): { hp: unknown; source: string } {
  if (o.hparams) return { hp: method.parseHParams(readHParamsFile(o.hparams), o.hparams), source: o.hparams };
  const key = o.preset ?? (o.world ? worldPresetKey(model) : presetKeyFor(model));
  if (!key)
    throw new Error(`no preset for this model; pass --hparams FILE.yaml or --preset (${Object.keys(method.presets).join(', ')})`);
  const hp = method.presets[key];
  if (!hp) throw new Error(`${method.name} has no preset "${key}" (available: ${Object.keys(method.presets).join(', ')})`);
  return { hp, source: `preset ${key}` };
}
