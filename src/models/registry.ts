/**
 * model_type -> architecture (never by substrings of a path), and building a CausalLM from
 * a config plus a name -> tensor map with every required tensor checked by name and shape.
 */
import type { Tensor } from '../tensor/index.js';
import type { ArchName, ModelConfig } from './config.js';
import { GPT2, gpt2ParamNames } from './gpt2.js';
import { GPTJ, gptjParamNames } from './gptj.js';
import { Llama, llamaParamNames } from './llama.js';
import type { CausalLM } from './types.js';

interface ArchDefinition {
  paramNames(cfg: ModelConfig): string[];
  create(cfg: ModelConfig, params: Map<string, Tensor>): CausalLM;
  /** canonical name for a checkpoint name (e.g. hub GPT-2 omits `transformer.`), or null to drop a buffer */
  canonicalName(name: string): string | null;
  /** expected shape of a parameter */
  shapeOf(cfg: ModelConfig, name: string): number[];
}

const gpt2Like = (name: string): string | null => {
  if (/\.attn\.(bias|masked_bias)$/.test(name)) return null; // causal-mask buffers of old checkpoints
  if (name.startsWith('transformer.') || name.startsWith('lm_head.')) return name;
  return `transformer.${name}`;
};

function gpt2Shape(cfg: ModelConfig, name: string): number[] {
  const D = cfg.hiddenSize;
  const F = cfg.intermediateSize;
  const rules: [RegExp, number[]][] = [
    [/wte\.weight$/, [cfg.vocabSize, D]],
    [/wpe\.weight$/, [cfg.maxPositions, D]],
    [/(ln_1|ln_2|ln_f)\.(weight|bias)$/, [D]],
    [/c_attn\.weight$/, [D, 3 * D]],
    [/c_attn\.bias$/, [3 * D]],
    [/attn\.c_proj\.weight$/, [D, D]],
    [/c_fc\.weight$/, [D, F]],
    [/c_fc\.bias$/, [F]],
    [/mlp\.c_proj\.weight$/, [F, D]],
    [/c_proj\.bias$/, [D]],
    [/lm_head\.weight$/, [cfg.vocabSize, D]],
  ];
  return rules.find(([re]) => re.test(name))?.[1] ?? [];
}

function llamaShape(cfg: ModelConfig, name: string): number[] {
  const D = cfg.hiddenSize;
  const F = cfg.intermediateSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const rules: [RegExp, number[]][] = [
    [/embed_tokens\.weight$/, [cfg.vocabSize, D]],
    [/lm_head\.weight$/, [cfg.vocabSize, D]],
    [/(layernorm|norm)\.weight$/, [D]],
    [/q_proj\.weight$/, [q, D]],
    [/q_proj\.bias$/, [q]],
    [/[kv]_proj\.weight$/, [kv, D]],
    [/[kv]_proj\.bias$/, [kv]],
    [/o_proj\.weight$/, [D, q]],
    [/(gate_proj|up_proj)\.weight$/, [F, D]],
    [/(gate_proj|up_proj)\.bias$/, [F]],
    [/down_proj\.weight$/, [D, F]],
    [/down_proj\.bias$/, [D]],
  ];
  return rules.find(([re]) => re.test(name))?.[1] ?? [];
}

function gptjShape(cfg: ModelConfig, name: string): number[] {
  const D = cfg.hiddenSize;
  const F = cfg.intermediateSize;
  const rules: [RegExp, number[]][] = [
    [/wte\.weight$/, [cfg.vocabSize, D]],
    [/lm_head\.weight$/, [cfg.vocabSize, D]],
    [/lm_head\.bias$/, [cfg.vocabSize]],
    [/(ln_1|ln_f)\.(weight|bias)$/, [D]],
    [/(q_proj|k_proj|v_proj|out_proj)\.weight$/, [D, D]],
    [/fc_in\.weight$/, [F, D]],
    [/fc_in\.bias$/, [F]],
    [/fc_out\.weight$/, [D, F]],
    [/fc_out\.bias$/, [D]],
  ];
  return rules.find(([re]) => re.test(name))?.[1] ?? [];
}

export const ARCHITECTURES: Record<ArchName, ArchDefinition> = {
  gpt2: { paramNames: gpt2ParamNames, create: (c, p) => new GPT2(c, p), canonicalName: gpt2Like, shapeOf: gpt2Shape },
  llama: {
    paramNames: llamaParamNames,
    create: (c, p) => new Llama(c, p),
    canonicalName: (n) => (/rotary_emb\.inv_freq$/.test(n) ? null : n),
    shapeOf: llamaShape,
  },
  gptj: {
    paramNames: gptjParamNames,
    create: (c, p) => new GPTJ(c, p),
    canonicalName: (n) => (/\.attn\.(bias|masked_bias)$/.test(n) ? null : n),
    shapeOf: gptjShape,
  },
};

/**
 * Build a model from a checkpoint's tensors: names canonicalised, buffers dropped, every
 * required parameter present with the shape the config implies, no unknown tensors.
 * `source` names the checkpoint in errors. Takes ownership of the tensors.
 */
export function createModel(cfg: ModelConfig, tensors: Map<string, Tensor>, source: string): CausalLM {
  const def = ARCHITECTURES[cfg.arch];
  const params = new Map<string, Tensor>();
  const unknown: string[] = [];
  const required = new Set(def.paramNames(cfg));
  for (const [raw, t] of tensors) {
    const name = def.canonicalName(raw);
    if (name === null) {
      t.dispose();
      continue;
    }
    if (!required.has(name)) {
      // a tied LM head saved anyway is harmless
      if (name === 'lm_head.weight' && cfg.tieWordEmbeddings) {
        t.dispose();
        continue;
      }
      unknown.push(raw);
      t.dispose();
      continue;
    }
    t.name = name;
    params.set(name, t);
  }
  const fail = (msg: string): never => {
    for (const t of params.values()) t.dispose();
    throw new Error(`${source}: ${msg}`);
  };
  const missing = [...required].filter((n) => !params.has(n));
  if (missing.length)
    fail(
      `missing ${missing.length} tensor(s) a ${cfg.modelType} model needs: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}`,
    );
  if (unknown.length)
    fail(
      `unexpected tensor(s) for a ${cfg.modelType} model: ${unknown.slice(0, 8).join(', ')}${unknown.length > 8 ? ', ...' : ''}`,
    );
  for (const [name, t] of params) {
    const want = def.shapeOf(cfg, name);
    if (want.length && (want.length !== t.rank || want.some((d, i) => d !== t.shape[i]))) {
      fail(`tensor ${name} has shape [${t.shape.join(', ')}], config.json implies [${want.join(', ')}]`);
    }
    if (t.dtype !== 'float32' && t.dtype !== 'float16' && t.dtype !== 'bfloat16' && t.dtype !== 'float64') {
      fail(`tensor ${name} has dtype ${t.dtype}; weights must be floating point`);
    }
  }
  return def.create(cfg, params);
}
