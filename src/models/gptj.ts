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
import { activation, archInfo, attend, lookupParam, mergeHeads, RopeCache, splitHeads } from './common.js';
import { runDecoder, type BlockContext } from './decoder.js';
import { hook, type Trace } from './hooks.js';
import type { ArchitectureInfo, CausalLM, ForwardInput, ForwardOutput, ModuleNames } from './types.js';

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

/** GPT-J's module names; its LM head is always untied (and has a bias). */
export const GPTJ_MODULES: Readonly<ModuleNames> = Object.freeze({
  layerTemplate: 'transformer.h.{}',
  mlpTemplate: 'transformer.h.{}.mlp',
  mlpInTemplate: 'transformer.h.{}.mlp.fc_in',
  mlpOutTemplate: 'transformer.h.{}.mlp.fc_out',
  attnTemplate: 'transformer.h.{}.attn',
  embedding: 'transformer.wte',
  finalNorm: 'transformer.ln_f',
  lmHead: 'lm_head',
  weightLayout: 'out_in',
});

export function gptjArch(cfg: ModelConfig): ArchitectureInfo {
  return archInfo(cfg, GPTJ_MODULES);
}

export function gptjHookPoints(cfg: ModelConfig): Set<string> {
  const s = new Set(['transformer.wte', 'transformer.ln_f', 'lm_head']);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    for (const m of [
      '',
      '.ln_1',
      '.attn',
      '.attn.q_proj',
      '.attn.k_proj',
      '.attn.v_proj',
      '.attn.out_proj',
      '.mlp',
      '.mlp.fc_in',
      '.mlp.act',
      '.mlp.fc_out',
    ]) {
      s.add(p + m);
    }
  }
  return s;
}

export class GPTJ implements CausalLM {
  readonly arch: ArchitectureInfo;
  readonly hookPoints: ReadonlySet<string>;
  private readonly rope: RopeCache;

  constructor(
    readonly config: ModelConfig,
    readonly params: Map<string, Tensor>,
  ) {
    this.arch = gptjArch(config);
    this.hookPoints = gptjHookPoints(config);
    this.rope = new RopeCache(config);
  }

  param(name: string): Tensor {
    return lookupParam(this.params, name);
  }

  // Each helper runs one HF module `name` (its parameters are `${name}.weight`, ...) as a hook point.

  /** nn.Linear: y = x @ Wᵀ (+ b), W stored [out, in]; the attention projections have no bias. */
  private linear(name: string, x: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, x, (x) => T.linear(x, this.param(`${name}.weight`), this.params.get(`${name}.bias`) ?? null, 'out_in'));
  }

  private layerNorm(name: string, x: Tensor, tr: Trace | undefined): Tensor {
    const eps = this.config.normEps;
    return hook(tr, name, x, (x) => T.layerNorm(x, this.param(`${name}.weight`), this.param(`${name}.bias`), eps));
  }

  private embedding(name: string, ids: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, ids, (ids) => T.embedding(ids, this.param(`${name}.weight`))); // [B, T, D]
  }

  private attention(name: string, x: Tensor, ctx: BlockContext): Tensor {
    return hook(ctx.trace, name, x, (x) => {
      const { numHeads: H, headDim: hd, rotaryDim } = this.config;
      const { cos, sin } = this.rope.get(ctx.maxPosition + 1, x.dtype);
      // rotary on the first rotary_dim features of each head only
      const rope = (t: Tensor): Tensor => T.rope(t, ctx.positions, cos, sin, { layout: 'interleaved', rotaryDim });
      const q = rope(splitHeads(this.linear(`${name}.q_proj`, x, ctx.trace), H, hd)); // [B, H, T, hd]
      const k = rope(splitHeads(this.linear(`${name}.k_proj`, x, ctx.trace), H, hd)); // [B, H, T, hd]
      const v = splitHeads(this.linear(`${name}.v_proj`, x, ctx.trace), H, hd); // [B, H, T, hd]
      const y = attend(q, ctx.kv(k, v), ctx.keyMask, 'where'); // [B, H, T, hd]
      return this.linear(`${name}.out_proj`, mergeHeads(y), ctx.trace); // [B, T, D]
    });
  }

  private mlp(name: string, x: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, x, (x) => {
      const h = this.linear(`${name}.fc_in`, x, tr); // [B, T, F]
      const a = hook(tr, `${name}.act`, h, activation(this.config)); // [B, T, F]
      return this.linear(`${name}.fc_out`, a, tr); // [B, T, D]
    });
  }

  /** Parallel block: attention and MLP both read ln_1(x). */
  private block(name: string, x: Tensor, ctx: BlockContext): Tensor {
    const tr = ctx.trace;
    return hook(tr, name, x, (x) => {
      const h = this.layerNorm(`${name}.ln_1`, x, tr); // [B, T, D]
      const a = this.attention(`${name}.attn`, h, ctx); // [B, T, D]
      const m = this.mlp(`${name}.mlp`, h, tr); // [B, T, D]
      return T.add(T.add(a, m), x); // HF's summation order: attn + mlp + residual
    });
  }

  forward(input: ForwardInput): ForwardOutput {
    input.trace?.validate(this.hookPoints);
    return runDecoder(this.config, input, {
      embed: (ids, _positions, tr) => this.embedding('transformer.wte', ids, tr),
      block: (i, x, ctx) => this.block(`transformer.h.${i}`, x, ctx),
      finalNorm: (x, tr) => this.finalNorm(x, tr),
      lmHead: (x, tr) => this.lmHead(x, tr),
    });
  }

  finalNorm(x: Tensor, trace?: Trace): Tensor {
    return this.layerNorm('transformer.ln_f', x, trace);
  }

  lmHead(x: Tensor, trace?: Trace): Tensor {
    return this.linear('lm_head', x, trace); // [B, T, V]
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    this.rope.dispose();
  }
}
