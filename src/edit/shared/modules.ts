/**
 * EasyEdit module-name templates (`*_module_tmp`) of the architectures in methods.md §0,
 * shared by the ROME/MEMIT presets, and the check of edited layers against a model.
 */
import type { CausalLM } from '../../models/types.js';
import { moduleAt } from '../hparams.js';

export interface ModuleFamily {
  /** rewrite_module_tmp: the MLP down projection */
  rewrite: string;
  layer: string;
  mlp: string;
  attn: string;
  lnF: string;
  lmHead: string;
}

export const GPT2_MODULES: ModuleFamily = {
  rewrite: 'transformer.h.{}.mlp.c_proj',
  layer: 'transformer.h.{}',
  mlp: 'transformer.h.{}.mlp',
  attn: 'transformer.h.{}.attn',
  lnF: 'transformer.ln_f',
  lmHead: 'transformer.wte',
};

export const GPTJ_MODULES: ModuleFamily = { ...GPT2_MODULES, rewrite: 'transformer.h.{}.mlp.fc_out', lmHead: 'lm_head' };

export const LLAMA_MODULES: ModuleFamily = {
  rewrite: 'model.layers.{}.mlp.down_proj',
  layer: 'model.layers.{}',
  mlp: 'model.layers.{}.mlp',
  attn: 'model.layers.{}.self_attn',
  lnF: 'model.norm',
  lmHead: 'lm_head',
};

/** The family as EasyEdit's `*_module_tmp` hyperparameter fields (what presets hold). */
export function moduleTemplates(fam: ModuleFamily): {
  rewrite_module_tmp: string;
  layer_module_tmp: string;
  mlp_module_tmp: string;
  attn_module_tmp: string;
  ln_f_module: string;
  lm_head_module: string;
} {
  return {
    rewrite_module_tmp: fam.rewrite,
    layer_module_tmp: fam.layer,
    mlp_module_tmp: fam.mlp,
    attn_module_tmp: fam.attn,
    ln_f_module: fam.lnF,
    lm_head_module: fam.lmHead,
  };
}

/** The edited layers checked against the model before anything runs; returned ascending. */
export function checkLayers(model: CausalLM, layers: readonly number[], rewriteTmp: string, method: string): number[] {
  const n = model.arch.numLayers;
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= n) throw new Error(`${method}: layer ${l} is outside the model's layers [0, ${n})`);
    model.param(`${moduleAt(rewriteTmp, l)}.weight`); // throws a clear error for a wrong template
  }
  return [...layers].sort((a, b) => a - b);
}
