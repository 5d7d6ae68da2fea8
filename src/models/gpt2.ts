/**
 * GPT-2 (all sizes), as in HF transformers' GPT2LMHeadModel: learned positions, pre-LN
 * blocks, Conv1D weights stored [in, out], `gelu_new` MLP, LM head tied to wte.
 *
 * Shapes: B batch, T tokens, P past tokens, D = n_embd, H heads, hd = D / H, F = 4D, V vocab.
 */
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ModelConfig } from './config.js';
import { activation, archInfo, attend, lookupParam, mergeHeads, splitHeads } from './common.js';
import { runDecoder, type BlockContext } from './decoder.js';
import { hook, type Trace } from './hooks.js';
import type { ArchitectureInfo, CausalLM, ForwardInput, ForwardOutput, ModuleNames } from './types.js';

/** Parameter names a GPT-2 checkpoint must hold (HF names, with the `transformer.` prefix). */
export function gpt2ParamNames(cfg: ModelConfig): string[] {
  const names = ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias'];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    for (const m of ['ln_1', 'attn.c_attn', 'attn.c_proj', 'ln_2', 'mlp.c_fc', 'mlp.c_proj'])
      names.push(`${p}.${m}.weight`, `${p}.${m}.bias`);
  }
  if (!cfg.tieWordEmbeddings) names.push('lm_head.weight');
  return names;
}

/** GPT-2's module names; every released GPT-2 ties its LM head to wte. */
export const GPT2_MODULES: Readonly<ModuleNames> = Object.freeze({
  layerTemplate: 'transformer.h.{}',
  mlpTemplate: 'transformer.h.{}.mlp',
  mlpInTemplate: 'transformer.h.{}.mlp.c_fc',
  mlpOutTemplate: 'transformer.h.{}.mlp.c_proj',
  attnTemplate: 'transformer.h.{}.attn',
  embedding: 'transformer.wte',
  finalNorm: 'transformer.ln_f',
  lmHead: 'transformer.wte',
  weightLayout: 'in_out',
});

export function gpt2Arch(cfg: ModelConfig): ArchitectureInfo {
  return archInfo(cfg, GPT2_MODULES, cfg.tieWordEmbeddings ? GPT2_MODULES.embedding : 'lm_head');
}

export function gpt2HookPoints(cfg: ModelConfig): Set<string> {
  const s = new Set(['transformer.wte', 'transformer.wpe', 'transformer.ln_f', 'lm_head']);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `transformer.h.${i}`;
    for (const m of [
      '',
      '.ln_1',
      '.attn',
      '.attn.c_attn',
      '.attn.c_proj',
      '.ln_2',
      '.mlp',
      '.mlp.c_fc',
      '.mlp.act',
      '.mlp.c_proj',
    ])
      s.add(p + m);
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

  // Each helper runs one HF module `name` (its parameters are `${name}.weight`, ...) as a hook point.

  /** Conv1D: y = x @ W + b, W stored [in, out]. */
  private conv1d(name: string, x: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, x, (x) => T.linear(x, this.param(`${name}.weight`), this.param(`${name}.bias`), 'in_out'));
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
      const { numHeads: H, headDim: hd, hiddenSize: D } = this.config;
      const qkv = this.conv1d(`${name}.c_attn`, x, ctx.trace); // [B, T, 3D]
      const [q, k, v] = T.split(qkv, [D, D, D], 2).map((t) => splitHeads(t, H, hd)) as [Tensor, Tensor, Tensor]; // [B, H, T, hd]
      const y = attend(q, ctx.kv(k, v), ctx.keyMask, 'where'); // [B, H, T, hd]
      return this.conv1d(`${name}.c_proj`, mergeHeads(y), ctx.trace); // [B, T, D]
    });
  }

  private mlp(name: string, x: Tensor, tr: Trace | undefined): Tensor {
    return hook(tr, name, x, (x) => {
      const h = this.conv1d(`${name}.c_fc`, x, tr); // [B, T, F]
      const a = hook(tr, `${name}.act`, h, activation(this.config)); // [B, T, F]
      return this.conv1d(`${name}.c_proj`, a, tr); // [B, T, D]
    });
  }

  /** Pre-LN block: x + attn(ln_1(x)), then + mlp(ln_2(.)). */
  private block(name: string, x: Tensor, ctx: BlockContext): Tensor {
    const tr = ctx.trace;
    return hook(tr, name, x, (x) => {
      const h = T.add(x, this.attention(`${name}.attn`, this.layerNorm(`${name}.ln_1`, x, tr), ctx)); // [B, T, D]
      return T.add(h, this.mlp(`${name}.mlp`, this.layerNorm(`${name}.ln_2`, h, tr), tr)); // [B, T, D]
    });
  }

  forward(input: ForwardInput): ForwardOutput {
    input.trace?.validate(this.hookPoints);
    return runDecoder(this.config, input, {
      embed: (ids, positions, tr) =>
        T.add(this.embedding('transformer.wte', ids, tr), this.embedding('transformer.wpe', positions, tr)), // [B, T, D]
      block: (i, x, ctx) => this.block(`transformer.h.${i}`, x, ctx),
      finalNorm: (x, tr) => this.finalNorm(x, tr),
      lmHead: (x, tr) => this.lmHead(x, tr),
    });
  }

  finalNorm(x: Tensor, trace?: Trace): Tensor {
    return this.layerNorm('transformer.ln_f', x, trace);
  }

  lmHead(x: Tensor, trace?: Trace): Tensor {
    return hook(trace, 'lm_head', x, (x) => {
      const w = this.param(this.config.tieWordEmbeddings ? 'transformer.wte.weight' : 'lm_head.weight'); // [V, D]
      return T.matmul(x, T.transpose(w)); // [B, T, V]
    });
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
  }
}
