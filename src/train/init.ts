/**
 * Fresh models to pretrain: a Hugging Face config.json object for a small GPT-2 or LLaMA, and
 * GPT-2-style random initialisation (N(0, std) weights, residual output projections scaled by
 * 1/√(2·layers), zero biases, unit norms).
 */
import * as T from '../tensor/index.js';
import { normalizeConfig } from '../models/config.js';
import { ARCHITECTURES, createModel } from '../models/registry.js';
import type { CausalLM } from '../models/types.js';

export interface SmallModelSpec {
  arch: 'gpt2' | 'llama';
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** MLP width; default 4·hidden (GPT-2) or the multiple of 32 nearest 8/3·hidden (LLaMA SwiGLU) */
  intermediateSize?: number;
  /** largest sequence (learned positions for GPT-2; rope tables for LLaMA) */
  maxPositions: number;
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  padTokenId?: number | null;
  /** tie the LM head to the token embedding; default true (fewer parameters, learns faster) */
  tieWordEmbeddings?: boolean;
}

/**
 * A config.json object (what `saveModel` writes and `loadModel` reads) for a small model.
 * @example const config = smallModelConfig({ arch: 'gpt2', vocabSize: 800, hiddenSize: 128, numLayers: 2, numHeads: 4, maxPositions: 64 });
 */
export function smallModelConfig(spec: SmallModelSpec): Record<string, unknown> {
  const d = spec.hiddenSize;
  const special = {
    bos_token_id: spec.bosTokenId ?? null,
    eos_token_id: spec.eosTokenId ?? null,
    pad_token_id: spec.padTokenId ?? null,
  };
  const tie = spec.tieWordEmbeddings ?? true;
  const cfg: Record<string, unknown> =
    spec.arch === 'gpt2'
      ? {
          architectures: ['GPT2LMHeadModel'],
          model_type: 'gpt2',
          vocab_size: spec.vocabSize,
          n_embd: d,
          n_layer: spec.numLayers,
          n_head: spec.numHeads,
          n_inner: spec.intermediateSize ?? null,
          n_positions: spec.maxPositions,
          n_ctx: spec.maxPositions,
          activation_function: 'gelu_new',
          layer_norm_epsilon: 1e-5,
          tie_word_embeddings: tie,
          ...special,
          torch_dtype: 'float32',
        }
      : {
          architectures: ['LlamaForCausalLM'],
          model_type: 'llama',
          vocab_size: spec.vocabSize,
          hidden_size: d,
          intermediate_size: spec.intermediateSize ?? Math.max(32, Math.round((8 * d) / 3 / 32) * 32),
          num_hidden_layers: spec.numLayers,
          num_attention_heads: spec.numHeads,
          num_key_value_heads: spec.numHeads,
          max_position_embeddings: spec.maxPositions,
          hidden_act: 'silu',
          rms_norm_eps: 1e-5,
          rope_theta: 10000,
          tie_word_embeddings: tie,
          ...special,
          torch_dtype: 'float32',
        };
  normalizeConfig(cfg, 'smallModelConfig'); // validate now, not at the first forward
  return cfg;
}

export interface InitOptions {
  /** default 0 */
  seed?: number;
  /** standard deviation of weights; default 0.02 */
  std?: number;
}

const NORM = /(ln_\d|ln_f|norm|layernorm)\.weight$/;
/** projections writing into the residual stream (GPT-2 scales their init by 1/√(2·layers)) */
const RESIDUAL_OUT = /(attn\.c_proj|mlp\.c_proj|o_proj|down_proj|out_proj|fc_out)\.weight$/;

/**
 * A float32 model with fresh GPT-2-style weights, from a config.json object; deterministic in
 * the seed. Parameters are created in the architecture's parameter-name order.
 * @example const model = initModel(smallModelConfig({...}), { seed: 1 });
 */
export function initModel(config: Record<string, unknown>, opts: InitOptions = {}): CausalLM {
  const cfg = normalizeConfig(config, 'initModel config');
  const def = ARCHITECTURES[cfg.arch];
  const std = opts.std ?? 0.02;
  const rng = new T.Rng(opts.seed ?? 0);
  const params = new Map<string, T.Tensor>();
  for (const name of def.paramNames(cfg)) {
    const shape = def.shapeOf(cfg, name);
    let t: T.Tensor;
    if (NORM.test(name)) t = T.ones(shape);
    else if (name.endsWith('.bias')) t = T.zeros(shape);
    else t = rng.normal(shape, RESIDUAL_OUT.test(name) ? std / Math.sqrt(2 * cfg.numLayers) : std);
    t = T.keep(t);
    t.name = name;
    params.set(name, t);
  }
  return createModel(cfg, params, 'initModel');
}
