/**
 * GPT-2 (all sizes), as in HF transformers' GPT2LMHeadModel: learned positions, pre-LN
 * blocks, Conv1D weights stored [in, out], `gelu_new` MLP, LM head tied to wte.
 *
 * Shapes: B batch, T tokens, P past tokens, D = n_embd, H heads, hd = D / H, F = 4D, V vocab.
 */
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ModelConfig } from './config.js';
import { hfPaddingRows, lookupParam } from './common.js';
import { runDecoder, type BlockContext } from './decoder.js';
import { hook, type Trace } from './hooks.js';
import type { ArchitectureInfo, CausalLM, ForwardInput, ForwardOutput } from './types.js';

/** Parameter names a GPT-2 checkpoint must hold (HF names, with the `transformer.` prefix). */
export function gpt2ParamNames(cfg: ModelConfig): string[] {
  const names = ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias'];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    for (const m of ['ln_1', 'attn.c_attn', 'attn.c_proj', 'ln_2', 'mlp.c_fc', 'mlp.c_proj']) names.push(`${p}.${m}.weight`, `${p}.${m}.bias`);
  }
  if (!cfg.tieWordEmbeddings) names.push('lm_head.weight');
  return names;
}

export function gpt2Arch(cfg: ModelConfig): ArchitectureInfo {
  return {
    numLayers: cfg.numLayers,
    hiddenSize: cfg.hiddenSize,
    intermediateSize: cfg.intermediateSize,
    layerTemplate: 'transformer.h.{}',
    mlpTemplate: 'transformer.h.{}.mlp',
    mlpInTemplate: 'transformer.h.{}.mlp.c_fc',
    mlpOutTemplate: 'transformer.h.{}.mlp.c_proj',
    attnTemplate: 'transformer.h.{}.attn',
    embedding: 'transformer.wte',
    finalNorm: 'transformer.ln_f',
    lmHead: cfg.tieWordEmbeddings ? 'transformer.wte' : 'lm_head',
    weightLayout: 'in_out',
  };
}

export function gpt2HookPoints(cfg: ModelConfig): Set<string> {
  const s = new Set(['transformer.wte', 'transformer.wpe', 'transformer.ln_f', 'lm_head']);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    for (const m of ['', '.ln_1', '.attn', '.attn.c_attn', '.attn.c_proj', '.ln_2', '.mlp', '.mlp.c_fc', '.mlp.act', '.mlp.c_proj']) s.add(p + m);
  }
  return s;
}

export class GPT2 implements CausalLM {
  readonly arch: ArchitectureInfo;
  readonly hookPoints: ReadonlySet<string>;

  constructor(
    readonly config: ModelConfig,
    readonly params: Map<string, Tensor>,
  ) {
    this.arch = gpt2Arch(config);
    this.hookPoints = gpt2HookPoints(config);
  }

  param(name: string): Tensor {
    return lookupParam(this.params, name);
  }

  /** Conv1D: y = x @ W + b with W [in, out]. */
  private conv1d(name: string, x: Tensor): Tensor {
    return T.linear(x, this.param(`${name}.weight`), this.param(`${name}.bias`), 'in_out');
  }

  private layerNorm(name: string, x: Tensor): Tensor {
    return T.layerNorm(x, this.param(`${name}.weight`), this.param(`${name}.bias`), this.config.normEps);
  }

  private attention(p: string, x: Tensor, ctx: BlockContext): Tensor {
    const { numHeads: H, headDim: hd, hiddenSize: D } = this.config;
    const [B, Tn] = x.shape as [number, number, number];
    const qkv = hook(ctx.trace, `${p}.attn.c_attn`, x, (t) => this.conv1d(`${p}.attn.c_attn`, t)); // [B, T, 3D]
    const [q, k, v] = T.split(qkv, [D, D, D], 2).map((t) => T.permute(T.reshape(t, [B, Tn, H, hd]), [0, 2, 1, 3])); // [B, H, T, hd]
    const kv = ctx.kv(k!, v!); // [B, H, P + T, hd]
    const y = hfPaddingRows(T.attention(q!, kv.k, kv.v, { causal: true, keyMask: ctx.keyMask }), q!, kv.k, kv.v, ctx.keyMask, 1 / Math.sqrt(this.config.headDim), 'where'); // [B, H, T, hd]
    const merged = T.reshape(T.permute(y, [0, 2, 1, 3]), [B, Tn, D]); // [B, T, D]
    return hook(ctx.trace, `${p}.attn.c_proj`, merged, (t) => this.conv1d(`${p}.attn.c_proj`, t));
  }

  private mlp(p: string, x: Tensor, trace: Trace | undefined): Tensor {
    const act = this.config.activation === 'gelu' ? T.geluErf : this.config.activation === 'relu' ? T.relu : T.gelu;
    const h = hook(trace, `${p}.mlp.c_fc`, x, (t) => this.conv1d(`${p}.mlp.c_fc`, t)); // [B, T, F]
    const a = hook(trace, `${p}.mlp.act`, h, act); // [B, T, F]
    return hook(trace, `${p}.mlp.c_proj`, a, (t) => this.conv1d(`${p}.mlp.c_proj`, t)); // [B, T, D]
  }

  private block(i: number, x: Tensor, ctx: BlockContext): Tensor {
    const p = `transformer.h.${i}`;
    const tr = ctx.trace;
    const a = hook(tr, `${p}.attn`, hook(tr, `${p}.ln_1`, x, (t) => this.layerNorm(`${p}.ln_1`, t)), (t) => this.attention(p, t, ctx));
    const h = T.add(x, a); // [B, T, D]
    const m = hook(tr, `${p}.mlp`, hook(tr, `${p}.ln_2`, h, (t) => this.layerNorm(`${p}.ln_2`, t)), (t) => this.mlp(p, t, tr));
    return T.add(h, m); // [B, T, D]
  }

  forward(input: ForwardInput): ForwardOutput {
    input.trace?.validate(this.hookPoints);
    return runDecoder(this.config, input, {
      embed: (ids, positions, tr) => {
        const tok = hook(tr, 'transformer.wte', ids, (t) => T.embedding(t, this.param('transformer.wte.weight'))); // [B, T, D]
        const pos = hook(tr, 'transformer.wpe', positions, (t) => T.embedding(t, this.param('transformer.wpe.weight'))); // [B, T, D]
        return T.add(tok, pos);
      },
      block: (i, x, ctx) => hook(ctx.trace, `transformer.h.${i}`, x, (t) => this.block(i, t, ctx)),
      finalNorm: (x, tr) => hook(tr, 'transformer.ln_f', x, (t) => this.layerNorm('transformer.ln_f', t)),
      lmHead: (x, tr) =>
        hook(tr, 'lm_head', x, (t) => {
          const w = this.config.tieWordEmbeddings ? this.param('transformer.wte.weight') : this.param('lm_head.weight'); // [V, D]
          return T.matmul(t, T.transpose(w)); // [B, T, V]
        }),
    });
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
  }
}
