/**
 * EasyEdit's module-name hyperparameters (`*_module_tmp`) from an architecture's names
 * (GPT2_MODULES, GPTJ_MODULES, LLAMA_MODULES in src/models), and the check of edited layers
 * against a model.
 */
import type { CausalLM, ModuleNames } from '../../models/types.js';
import { moduleAt } from '../hparams.js';

/** The names as EasyEdit's `*_module_tmp` hyperparameter fields (what presets hold). */
export function moduleTemplates(names: ModuleNames): {
  rewrite_module_tmp: string;
  layer_module_tmp: string;
  mlp_module_tmp: string;
  attn_module_tmp: string;
  ln_f_module: string;
  lm_head_module: string;
} {
  return {
    // ROME/MEMIT rewrite the MLP's down projection
    rewrite_module_tmp: names.mlpOutTemplate,
    layer_module_tmp: names.layerTemplate,
    mlp_module_tmp: names.mlpTemplate,
    attn_module_tmp: names.attnTemplate,
    ln_f_module: names.finalNorm,
    lm_head_module: names.lmHead,
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

/**
 * The module-name hyperparameters must name this model's own modules: the v* and z optimisations
 * run the model's blocks, final norm and LM head, so a template pointing elsewhere would be
 * ignored silently. A tied head may be named either way (`lm_head` or the embedding).
 */
export function checkModules(
  model: CausalLM,
  hp: {
    layer_module_tmp: string;
    mlp_module_tmp: string;
    ln_f_module: string;
    lm_head_module: string;
    v_loss_layer: number;
  },
  method: string,
): void {
  const { arch } = model;
  const n = arch.numLayers;
  if (!Number.isInteger(hp.v_loss_layer) || hp.v_loss_layer < 0 || hp.v_loss_layer >= n)
    throw new Error(`${method}: v_loss_layer is ${hp.v_loss_layer}, but this model's blocks are 0..${n - 1}`);
  const want: [string, string, string][] = [
    ['layer_module_tmp', hp.layer_module_tmp, arch.layerTemplate],
    ['mlp_module_tmp', hp.mlp_module_tmp, arch.mlpTemplate],
    ['ln_f_module', hp.ln_f_module, arch.finalNorm],
  ];
  for (const [field, got, expected] of want) {
    if (got !== expected) throw new Error(`${method}: ${field} is "${got}", but this model's is "${expected}"`);
  }
  const heads = new Set([arch.lmHead, ...(model.config.tieWordEmbeddings ? ['lm_head', arch.embedding] : [])]);
  if (!heads.has(hp.lm_head_module))
    throw new Error(`${method}: lm_head_module is "${hp.lm_head_module}", but this model's LM head is "${arch.lmHead}"`);
}
