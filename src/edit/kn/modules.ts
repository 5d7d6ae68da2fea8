/**
 * Where KN reads and writes in each architecture (README.md, "The method", Modules): the hooked first
 * FFN linear (pre-activation), the value matrix whose slot i belongs to neuron i, the embedding.
 */
import type { CausalLM } from '../../models/types.js';
import { moduleAt } from '../hparams.js';

export interface KNModules {
  /** first FFN linear, whose OUTPUT (pre-nonlinearity) is attributed and patched */
  activationTemplate: string;
  /** the FFN output projection's weight parameter */
  valueTemplate: string;
  /** stored layout of the value weight: GPT-2 Conv1D [d_ff, d] → slot i is ROW i; Linear [d, d_ff] → COLUMN i */
  slot: 'row' | 'column';
  /** input embedding matrix [V, d] (E in the update) */
  embedding: string;
}

/**
 * The KN modules of a model, as the reference code names them per model type.
 * @example knModules(gpt2).activationTemplate // 'transformer.h.{}.mlp.c_fc'
 */
export function knModules(model: CausalLM): KNModules {
  const mods = modulesOf(model);
  const { activation, value } = knLayerNames(mods, 0);
  if (!model.hookPoints.has(activation)) throw new Error(`KN: the model has no module "${activation}" to attribute`);
  model.param(value); // a clear error naming near parameters when absent
  model.param(mods.embedding);
  return mods;
}

function modulesOf(model: CausalLM): KNModules {
  const slot = model.arch.weightLayout === 'in_out' ? 'row' : 'column';
  const embedding = `${model.arch.embedding}.weight`;
  switch (model.config.arch) {
    case 'gpt2':
      return {
        activationTemplate: 'transformer.h.{}.mlp.c_fc',
        valueTemplate: 'transformer.h.{}.mlp.c_proj.weight',
        slot,
        embedding,
      };
    case 'gptj':
      return {
        activationTemplate: 'transformer.h.{}.mlp.fc_in',
        valueTemplate: 'transformer.h.{}.mlp.fc_out.weight',
        slot,
        embedding,
      };
    case 'llama':
      // the gate, before SiLU and before the product with up_proj (EasyEdit's input_ff_attr)
      return {
        activationTemplate: 'model.layers.{}.mlp.gate_proj',
        valueTemplate: 'model.layers.{}.mlp.down_proj.weight',
        slot,
        embedding,
      };
  }
}

/** Hooked module name and value-weight name at a layer. */
export function knLayerNames(mods: KNModules, layer: number): { activation: string; value: string } {
  return { activation: moduleAt(mods.activationTemplate, layer), value: moduleAt(mods.valueTemplate, layer) };
}
