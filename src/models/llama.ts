/**
 * The LLaMA family (LLaMA-1/2/3, Mistral and Qwen2 variants) as in HF LlamaForCausalLM:
 * RMSNorm, rotary embeddings in the rotate_half layout, grouped-query attention, SwiGLU MLP,
 * nn.Linear weights stored [out, in].
 *
 * Shapes: B batch, T tokens, P past tokens, D hidden, H query heads, KVH key/value heads,
 * hd head dim, F intermediate size, V vocab.
 */
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ModelConfig } from './config.js';
import { archInfo, attend, lookupParam, mergeHeads, RopeCache, splitHeads } from './common.js';
import { runDecoder, type BlockContext } from './decoder.js';
import { hook, type Trace } from './hooks.js';
import type { ArchitectureInfo, CausalLM, ForwardInput, ForwardOutput, ModuleNames } from './types.js';

export function llamaParamNames(cfg: ModelConfig): string[] {
  const names = ['model.embed_tokens.weight', 'model.norm.weight'];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    names.push(`${p}.input_layernorm.weight`, `${p}.post_attention_layernorm.weight`);
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) names.push(`${p}.self_attn.${m}.weight`);
    if (cfg.attentionBias) for (const m of ['q_proj', 'k_proj', 'v_proj']) names.push(`${p}.self_attn.${m}.bias`);
    for (const m of ['gate_proj', 'up_proj', 'down_proj']) {
      names.push(`${p}.mlp.${m}.weight`);
      if (cfg.mlpBias) names.push(`${p}.mlp.${m}.bias`);
    }
  }
  if (!cfg.tieWordEmbeddings) names.push('lm_head.weight');
  return names;
}

/** The LLaMA family's module names; LLaMA-2's LM head is untied (Llama-3.2-1B ties it). */
export const LLAMA_MODULES: Readonly<ModuleNames> = Object.freeze({
  layerTemplate: 'model.layers.{}',
  mlpTemplate: 'model.layers.{}.mlp',
  mlpInTemplate: 'model.layers.{}.mlp.up_proj',
  mlpOutTemplate: 'model.layers.{}.mlp.down_proj',
  attnTemplate: 'model.layers.{}.self_attn',
  embedding: 'model.embed_tokens',
  finalNorm: 'model.norm',
  lmHead: 'lm_head',
  weightLayout: 'out_in',
});

export function llamaArch(cfg: ModelConfig): ArchitectureInfo {
  return archInfo(cfg, LLAMA_MODULES, cfg.tieWordEmbeddings ? LLAMA_MODULES.embedding : 'lm_head');
}

export function llamaHookPoints(cfg: ModelConfig): Set<string> {
  const s = new Set(['model.embed_tokens', 'model.norm', 'lm_head']);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    for (const m of [
      '',
      '.input_layernorm',
      '.self_attn',
      '.self_attn.q_proj',
      '.self_attn.k_proj',
      '.self_attn.v_proj',
      '.self_attn.o_proj',
      '.post_attention_layernorm',
      '.mlp',
      '.mlp.gate_proj',
      '.mlp.up_proj',
      '.mlp.act_fn',
      '.mlp.down_proj',
    ])
      s.add(p + m);
  }
  return s;
}

export class Llama implements CausalLM {
  readonly arch: ArchitectureInfo;
  readonly hookPoints: ReadonlySet<string>;
  private readonly rope: RopeCache;

  constructor(
    readonly config: ModelConfig,
    readonly params: Map<string, Tensor>,
  ) {
    this.arch = llamaArch(config);
    this.hookPoints = llamaHookPoints(config);
    this.rope = new RopeCache(config);
  }

  param(name: string): Tensor {
    return lookupParam(this.params, name);
  }

  // Each helper runs one HF module `name` (its parameters are `${name}.weight`, ...) as a hook point.

  /** nn.Linear: y = x @ Wᵀ (+ b), W stored [out, in]; Qwen2 has q/k/v biases, mlp_bias configs MLP ones. */
  private linear(name: string, x: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, x, (x) => T.linear(x, this.param(`${name}.weight`), this.params.get(`${name}.bias`) ?? null, 'out_in'));
  }

  private rmsNorm(name: string, x: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, x, (x) => T.rmsNorm(x, this.param(`${name}.weight`), this.config.normEps));
  }

  private embedding(name: string, ids: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, ids, (ids) => T.embedding(ids, this.param(`${name}.weight`))); // [B, T, D]
  }

  private attention(name: string, x: Tensor, ctx: BlockContext): Tensor {
    return hook(ctx.trace, name, x, (x) => {
      const { numHeads: H, numKvHeads: KVH, headDim: hd } = this.config;
      const q = splitHeads(this.linear(`${name}.q_proj`, x, ctx.trace), H, hd); // [B, H, T, hd]
      const k = splitHeads(this.linear(`${name}.k_proj`, x, ctx.trace), KVH, hd); // [B, KVH, T, hd]
      const v = splitHeads(this.linear(`${name}.v_proj`, x, ctx.trace), KVH, hd); // [B, KVH, T, hd]
      const { cos, sin } = this.rope.get(ctx.maxPosition + 1, x.dtype);
      const rope = (t: Tensor): Tensor => T.rope(t, ctx.positions, cos, sin, { layout: 'half' });
      const y = attend(rope(q), ctx.kv(rope(k), v), ctx.keyMask, 'additive'); // [B, H, T, hd]
      return this.linear(`${name}.o_proj`, mergeHeads(y), ctx.trace); // [B, T, D]
    });
  }

  /** SwiGLU: down_proj(silu(gate_proj(x)) * up_proj(x)). */
  private mlp(name: string, x: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, x, (x) => {
      const gate = this.linear(`${name}.gate_proj`, x, tr); // [B, T, F]
      const up = this.linear(`${name}.up_proj`, x, tr); // [B, T, F]
      const act = hook(tr, `${name}.act_fn`, gate, T.silu); // [B, T, F]
      return this.linear(`${name}.down_proj`, T.mul(act, up), tr); // [B, T, D]
    });
  }

  /** Pre-norm block: x + self_attn(input_layernorm(x)), then + mlp(post_attention_layernorm(.)). */
  private block(name: string, x: Tensor, ctx: BlockContext): Tensor {
    const tr = ctx.trace;
    return hook(tr, name, x, (x) => {
      const h = T.add(x, this.attention(`${name}.self_attn`, this.rmsNorm(`${name}.input_layernorm`, x, tr), ctx)); // [B, T, D]
      return T.add(h, this.mlp(`${name}.mlp`, this.rmsNorm(`${name}.post_attention_layernorm`, h, tr), tr)); // [B, T, D]
    });
  }

  forward(input: ForwardInput): ForwardOutput {
    input.trace?.validate(this.hookPoints);
    return runDecoder(this.config, input, {
      embed: (ids, _positions, tr) => this.embedding('model.embed_tokens', ids, tr),
      block: (i, x, ctx) => this.block(`model.layers.${i}`, x, ctx),
      finalNorm: (x, tr) => this.finalNorm(x, tr),
      lmHead: (x, tr) => this.lmHead(x, tr),
    });
  }

  finalNorm(x: Tensor, trace?: Trace): Tensor {
    return this.rmsNorm('model.norm', x, trace);
  }

  lmHead(x: Tensor, trace?: Trace): Tensor {
    return hook(trace, 'lm_head', x, (x) => {
      const w = this.param(this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'); // [V, D]
      return T.matmul(x, T.transpose(w)); // [B, T, V]
    });
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    this.rope.dispose();
  }
}
