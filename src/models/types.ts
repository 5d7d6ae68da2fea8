/**
 * The model interface every architecture implements, and the architecture description that
 * lets editing methods find modules without hard-coding model names.
 *
 * Shapes: B batch, T new tokens, P cached (past) tokens, D hidden size, V vocabulary.
 */
import type { Tensor } from '../tensor/index.js';
import type { ModelConfig } from './config.js';
import type { Trace } from './hooks.js';

/**
 * Where things are, as HF module-name templates with `{}` for the layer index (the
 * EasyEdit/ROME `*_module_tmp` convention).
 */
export interface ArchitectureInfo {
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  /** block (residual stream output): 'transformer.h.{}' / 'model.layers.{}' */
  layerTemplate: string;
  /** whole MLP: 'transformer.h.{}.mlp' */
  mlpTemplate: string;
  /** MLP up projection(s) read by KN: 'transformer.h.{}.mlp.c_fc' / 'model.layers.{}.mlp.up_proj' */
  mlpInTemplate: string;
  /** MLP down projection, ROME/MEMIT's rewrite module: 'transformer.h.{}.mlp.c_proj' */
  mlpOutTemplate: string;
  attnTemplate: string;
  /** token embedding module */
  embedding: string;
  finalNorm: string;
  /** module whose weight is the LM head (the embedding when tied) */
  lmHead: string;
  /** layout of linear weights: GPT-2 Conv1D stores [in, out], nn.Linear stores [out, in] */
  weightLayout: 'in_out' | 'out_in';
}

/**
 * The part of ArchitectureInfo that every model of an architecture shares, exported per
 * architecture (GPT2_MODULES, GPTJ_MODULES, LLAMA_MODULES) so editing presets can name modules
 * without a loaded model. `lmHead` is the usual checkpoints' choice; `model.arch` has the
 * loaded config's.
 */
export type ModuleNames = Omit<ArchitectureInfo, 'numLayers' | 'hiddenSize' | 'intermediateSize'>;

/** Per-layer key/value cache: k, v [B, KVH, P, headDim]. */
export interface KVCache {
  layers: { k: Tensor; v: Tensor }[];
  /** P: number of cached positions */
  length: number;
}

export interface ForwardInput {
  /** int32 [B, T] */
  ids: Tensor;
  /** uint8 [B, P + T]: 1 = token, 0 = padding (left padding). Default: all ones. */
  attentionMask?: Tensor;
  /** int32 [B, T]. Default: derived from the mask as HF generate does (cumsum - 1, pads 1). */
  positionIds?: Tensor;
  /** Cache from a previous call; when given, the returned cache extends it. */
  cache?: KVCache;
  /** Build and return a KV cache. */
  useCache?: boolean;
  /**
   * Positions to reserve per layer when the cache is allocated (generation passes prompt +
   * max new tokens), so later steps write into it instead of copying it. Default: the
   * cache grows by half its size when full.
   */
  cacheCapacity?: number;
  trace?: Trace;
  /** Which logits to compute: every position (default), only the last one, or none. */
  logits?: 'all' | 'last' | 'none';
}

export interface ForwardOutput {
  /** [B, T, V], or [B, 1, V] with logits 'last'; null with 'none' or a stopped forward */
  logits: Tensor | null;
  /** final-norm output [B, T, D] (HF hidden_states[-1]); null when stopped early */
  hidden: Tensor | null;
  cache: KVCache | null;
  /** set when a Trace stopped the forward early */
  stoppedAfter: string | null;
}

/** A loaded causal LM: parameters under their HF names plus a written-out forward pass. */
export interface CausalLM {
  readonly config: ModelConfig;
  readonly arch: ArchitectureInfo;
  /** parameters by HF name (`transformer.h.0.mlp.c_proj.weight`) */
  readonly params: Map<string, Tensor>;
  /** every module name a Trace can hook */
  readonly hookPoints: ReadonlySet<string>;
  forward(input: ForwardInput): ForwardOutput;
  /** The final norm on hidden states [..., D], as the forward applies it (hook point `arch.finalNorm`). */
  finalNorm(x: Tensor, trace?: Trace): Tensor;
  /** Logits [..., V] from final-norm outputs [..., D] (hook point `lm_head`; the embedding's weight when tied). */
  lmHead(x: Tensor, trace?: Trace): Tensor;
  /** A parameter by HF name, with a clear error listing near names when absent. */
  param(name: string): Tensor;
  dispose(): void;
}
