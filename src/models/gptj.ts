/**
 * GPT-J, as in HF GPTJForCausalLM: one LayerNorm feeding attention and MLP in parallel
 * (x + attn(ln(x)) + mlp(ln(x))), rotary embeddings on the first rotary_dim features of each
 * head in the interleaved (rotate_every_two) layout, bias-free q/k/v/out projections, an
 * untied LM head with bias. nn.Linear weights are [out, in].
 *
 * Shapes: B batch, T tokens, P past tokens, D hidden, H heads, hd head dim, F = n_inner, V vocab.
 */
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ModelConfig } from './config.js';
import { hfPaddingRows, lookupParam, ropeAs, ropeTables, type RopeTables } from './common.js';
import { runDecoder, type BlockContext } from './decoder.js';
import { hook, type Trace } from './hooks.js';
import type { ArchitectureInfo, CausalLM, ForwardInput, ForwardOutput } from './types.js';

export function gptjParamNames(cfg: ModelConfig): string[] {
  const names = ['transformer.wte.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias', 'lm_head.weight', 'lm_head.bias'];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    names.push(`${p}.ln_1.weight`, `${p}.ln_1.bias`);
    for (const m of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) names.push(`${p}.attn.${m}.weight`);
    for (const m of ['fc_in', 'fc_out']) names.push(`${p}.mlp.${m}.weight`, `${p}.mlp.${m}.bias`);
  }
  return names;
}

export function gptjArch(cfg: ModelConfig): ArchitectureInfo {
  return {
    numLayers: cfg.numLayers,
    hiddenSize: cfg.hiddenSize,
    intermediateSize: cfg.intermediateSize,
    layerTemplate: 'transformer.h.{}',
    mlpTemplate: 'transformer.h.{}.mlp',
    mlpInTemplate: 'transformer.h.{}.mlp.fc_in',
    mlpOutTemplate: 'transformer.h.{}.mlp.fc_out',
    attnTemplate: 'transformer.h.{}.attn',
    embedding: 'transformer.wte',
    finalNorm: 'transformer.ln_f',
    lmHead: 'lm_head',
    weightLayout: 'out_in',
  };
}

export function gptjHookPoints(cfg: ModelConfig): Set<string> {
  const s = new Set(['transformer.wte', 'transformer.ln_f', 'lm_head']);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    for (const m of ['', '.ln_1', '.attn', '.attn.q_proj', '.attn.k_proj', '.attn.v_proj', '.attn.out_proj', '.mlp', '.mlp.fc_in', '.mlp.act', '.mlp.fc_out']) {
      s.add(p + m);
    }
  }
  return s;
}

export class GPTJ implements CausalLM {
  readonly arch: ArchitectureInfo;
  readonly hookPoints: ReadonlySet<string>;
  private rope: RopeTables | null = null;

  constructor(
    readonly config: ModelConfig,
    readonly params: Map<string, Tensor>,
  ) {
    this.arch = gptjArch(config);
    this.hookPoints = gptjHookPoints(config);
  }

  param(name: string): Tensor {
    return lookupParam(this.params, name);
  }

  private linear(name: string, x: Tensor): Tensor {
    return T.linear(x, this.param(`${name}.weight`), this.params.get(`${name}.bias`) ?? null, 'out_in');
  }

  private ropeTables(needed: number): RopeTables {
    if (!this.rope || this.rope.cos.shape[0]! < needed) {
      this.rope?.cos.dispose();
      this.rope?.sin.dispose();
      // HF GPT-J: inv_freq = 1 / 10000^(arange(0, rotary_dim, 2) / rotary_dim), fp32
      const rd = this.config.rotaryDim;
      const inv: number[] = [];
      for (let i = 0; i < rd; i += 2) inv.push(Math.fround(1 / Math.fround(Math.pow(10000, Math.fround(i / rd)))));
      this.rope = ropeTables(inv, Math.max(needed, this.config.maxPositions));
    }
    return this.rope;
  }

  private attention(p: string, x: Tensor, ctx: BlockContext): Tensor {
    const { numHeads: H, headDim: hd, hiddenSize: D, rotaryDim } = this.config;
    const [B, Tn] = x.shape as [number, number, number];
    const a = `${p}.attn`;
    const heads = (name: string): Tensor =>
      T.permute(T.reshape(hook(ctx.trace, `${a}.${name}`, x, (t) => this.linear(`${a}.${name}`, t)), [B, Tn, H, hd]), [0, 2, 1, 3]); // [B, H, T, hd]
    const { cos, sin } = ropeAs(this.ropeTables(ctx.maxPosition + 1), x.dtype);
    const q = T.rope(heads('q_proj'), ctx.positions, cos, sin, { layout: 'interleaved', rotaryDim });
    const k = T.rope(heads('k_proj'), ctx.positions, cos, sin, { layout: 'interleaved', rotaryDim });
    const kv = ctx.kv(k, heads('v_proj')); // [B, H, P + T, hd]
    const y = hfPaddingRows(T.attention(q, kv.k, kv.v, { causal: true, keyMask: ctx.keyMask }), q, kv.k, kv.v, ctx.keyMask, 1 / Math.sqrt(this.config.headDim), 'where'); // [B, H, T, hd]
    const merged = T.reshape(T.permute(y, [0, 2, 1, 3]), [B, Tn, D]); // [B, T, D]
    return hook(ctx.trace, `${a}.out_proj`, merged, (t) => this.linear(`${a}.out_proj`, t));
  }

  private mlp(p: string, x: Tensor, trace: Trace | undefined): Tensor {
    const m = `${p}.mlp`;
    const act = this.config.activation === 'gelu' ? T.geluErf : this.config.activation === 'relu' ? T.relu : T.gelu;
    const h = hook(trace, `${m}.fc_in`, x, (t) => this.linear(`${m}.fc_in`, t)); // [B, T, F]
    const g = hook(trace, `${m}.act`, h, act);
    return hook(trace, `${m}.fc_out`, g, (t) => this.linear(`${m}.fc_out`, t)); // [B, T, D]
  }

  private block(i: number, x: Tensor, ctx: BlockContext): Tensor {
    const p = `transformer.h.${i}`;
    const tr = ctx.trace;
    const h = hook(tr, `${p}.ln_1`, x, (t) => T.layerNorm(t, this.param(`${p}.ln_1.weight`), this.param(`${p}.ln_1.bias`), this.config.normEps));
    const a = hook(tr, `${p}.attn`, h, (t) => this.attention(p, t, ctx)); // [B, T, D]
    const m = hook(tr, `${p}.mlp`, h, (t) => this.mlp(p, t, tr)); // [B, T, D]
    return T.add(T.add(a, m), x); // HF order: attn + mlp + residual
  }

  forward(input: ForwardInput): ForwardOutput {
    input.trace?.validate(this.hookPoints);
    return runDecoder(this.config, input, {
      embed: (ids, _positions, tr) => hook(tr, 'transformer.wte', ids, (t) => T.embedding(t, this.param('transformer.wte.weight'))),
      block: (i, x, ctx) => hook(ctx.trace, `transformer.h.${i}`, x, (t) => this.block(i, t, ctx)),
      finalNorm: (x, tr) =>
        hook(tr, 'transformer.ln_f', x, (t) => T.layerNorm(t, this.param('transformer.ln_f.weight'), this.param('transformer.ln_f.bias'), this.config.normEps)),
      lmHead: (x, tr) => hook(tr, 'lm_head', x, (t) => this.linear('lm_head', t)),
    });
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    this.rope?.cos.dispose();
    this.rope?.sin.dispose();
  }
}
