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
import { hfPaddingRows, lookupParam, ropeAs, ropeInvFreq, ropeTables, type RopeTables } from './common.js';
import { runDecoder, type BlockContext } from './decoder.js';
import { hook, type Trace } from './hooks.js';
import type { ArchitectureInfo, CausalLM, ForwardInput, ForwardOutput } from './types.js';

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

export function llamaArch(cfg: ModelConfig): ArchitectureInfo {
  return {
    numLayers: cfg.numLayers,
    hiddenSize: cfg.hiddenSize,
    intermediateSize: cfg.intermediateSize,
    layerTemplate: 'model.layers.{}',
    mlpTemplate: 'model.layers.{}.mlp',
    mlpInTemplate: 'model.layers.{}.mlp.up_proj',
    mlpOutTemplate: 'model.layers.{}.mlp.down_proj',
    attnTemplate: 'model.layers.{}.self_attn',
    embedding: 'model.embed_tokens',
    finalNorm: 'model.norm',
    lmHead: cfg.tieWordEmbeddings ? 'model.embed_tokens' : 'lm_head',
    weightLayout: 'out_in',
  };
}

export function llamaHookPoints(cfg: ModelConfig): Set<string> {
  const s = new Set(['model.embed_tokens', 'model.norm', 'lm_head']);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}`;
    for (const m of [
      '', '.input_layernorm', '.self_attn', '.self_attn.q_proj', '.self_attn.k_proj', '.self_attn.v_proj', '.self_attn.o_proj',
      '.post_attention_layernorm', '.mlp', '.mlp.gate_proj', '.mlp.up_proj', '.mlp.act_fn', '.mlp.down_proj',
    ]) s.add(p + m);
  }
  return s;
}

export class Llama implements CausalLM {
  readonly arch: ArchitectureInfo;
  readonly hookPoints: ReadonlySet<string>;
  private rope: RopeTables | null = null;

  constructor(
    readonly config: ModelConfig,
    readonly params: Map<string, Tensor>,
  ) {
    this.arch = llamaArch(config);
    this.hookPoints = llamaHookPoints(config);
  }

  param(name: string): Tensor {
    return lookupParam(this.params, name);
  }

  /** nn.Linear: y = x @ Wᵀ (+ b) with W [out, in]. */
  private linear(name: string, x: Tensor): Tensor {
    return T.linear(x, this.param(`${name}.weight`), this.params.get(`${name}.bias`) ?? null, 'out_in');
  }

  private rmsNorm(name: string, x: Tensor): Tensor {
    return T.rmsNorm(x, this.param(`${name}.weight`), this.config.normEps);
  }

  private ropeTables(needed: number): RopeTables {
    if (!this.rope || this.rope.cos.shape[0]! < needed) {
      this.rope?.cos.dispose();
      this.rope?.sin.dispose();
      const P = Math.max(needed, this.config.maxPositions);
      const scale = this.config.ropeScaling.type === 'linear' ? this.config.ropeScaling.factor : 1;
      this.rope = ropeTables(ropeInvFreq(this.config), P, scale);
    }
    return this.rope;
  }

  private attention(p: string, x: Tensor, ctx: BlockContext): Tensor {
    const { numHeads: H, numKvHeads: KVH, headDim: hd } = this.config;
    const [B, Tn] = x.shape as [number, number, number];
    const a = `${p}.self_attn`;
    const heads = (name: string, n: number): Tensor =>
      T.permute(T.reshape(hook(ctx.trace, `${a}.${name}`, x, (t) => this.linear(`${a}.${name}`, t)), [B, Tn, n, hd]), [0, 2, 1, 3]);
    const q = heads('q_proj', H); // [B, H, T, hd]
    const k = heads('k_proj', KVH); // [B, KVH, T, hd]
    const v = heads('v_proj', KVH); // [B, KVH, T, hd]
    const { cos, sin } = ropeAs(this.ropeTables(ctx.maxPosition + 1), x.dtype);
    const qr = T.rope(q, ctx.positions, cos, sin, { layout: 'half' });
    const kr = T.rope(k, ctx.positions, cos, sin, { layout: 'half' });
    const kv = ctx.kv(kr, v); // [B, KVH, P + T, hd]
    const y = hfPaddingRows(T.attention(qr, kv.k, kv.v, { causal: true, keyMask: ctx.keyMask }), qr, kv.k, kv.v, ctx.keyMask, 1 / Math.sqrt(this.config.headDim), 'additive'); // [B, H, T, hd]
    const merged = T.reshape(T.permute(y, [0, 2, 1, 3]), [B, Tn, H * hd]); // [B, T, H*hd]
    return hook(ctx.trace, `${a}.o_proj`, merged, (t) => this.linear(`${a}.o_proj`, t)); // [B, T, D]
  }

  private mlp(p: string, x: Tensor, trace: Trace | undefined): Tensor {
    const m = `${p}.mlp`;
    const gate = hook(trace, `${m}.gate_proj`, x, (t) => this.linear(`${m}.gate_proj`, t)); // [B, T, F]
    const up = hook(trace, `${m}.up_proj`, x, (t) => this.linear(`${m}.up_proj`, t)); // [B, T, F]
    const act = hook(trace, `${m}.act_fn`, gate, T.silu);
    return hook(trace, `${m}.down_proj`, T.mul(act, up), (t) => this.linear(`${m}.down_proj`, t)); // [B, T, D]
  }

  private block(i: number, x: Tensor, ctx: BlockContext): Tensor {
    const p = `model.layers.${i}`;
    const tr = ctx.trace;
    const a = hook(tr, `${p}.self_attn`, hook(tr, `${p}.input_layernorm`, x, (t) => this.rmsNorm(`${p}.input_layernorm`, t)), (t) =>
      this.attention(p, t, ctx),
    );
    const h = T.add(x, a); // [B, T, D]
    const m = hook(tr, `${p}.mlp`, hook(tr, `${p}.post_attention_layernorm`, h, (t) => this.rmsNorm(`${p}.post_attention_layernorm`, t)), (t) =>
      this.mlp(p, t, tr),
    );
    return T.add(h, m); // [B, T, D]
  }

  forward(input: ForwardInput): ForwardOutput {
    input.trace?.validate(this.hookPoints);
    return runDecoder(this.config, input, {
      embed: (ids, _positions, tr) => hook(tr, 'model.embed_tokens', ids, (t) => T.embedding(t, this.param('model.embed_tokens.weight'))),
      block: (i, x, ctx) => hook(ctx.trace, `model.layers.${i}`, x, (t) => this.block(i, t, ctx)),
      finalNorm: (x, tr) => hook(tr, 'model.norm', x, (t) => this.rmsNorm('model.norm', t)),
      lmHead: (x, tr) =>
        hook(tr, 'lm_head', x, (t) => {
          const w = this.config.tieWordEmbeddings ? this.param('model.embed_tokens.weight') : this.param('lm_head.weight'); // [V, D]
          return T.matmul(t, T.transpose(w)); // [B, T, V]
        }),
    });
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    this.rope?.cos.dispose();
    this.rope?.sin.dispose();
  }
}
