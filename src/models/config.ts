/**
 * Normalise a Hugging Face `config.json` into one ModelConfig shape (as transformers.js's
 * getNormalizedConfig does), rejecting architectures and options we do not implement.
 */

export type ArchName = 'gpt2' | 'llama' | 'gptj';

/** Rope frequency scaling variants (HF `rope_scaling`). */
export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface ModelConfig {
  arch: ArchName;
  /** `model_type` as written in config.json (e.g. 'mistral', 'qwen2' map to arch 'llama'). */
  modelType: string;
  vocabSize: number;
  /** d_model */
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** MLP inner width */
  intermediateSize: number;
  maxPositions: number;
  normEps: number;
  /** 'gelu_new' (GPT-2/GPT-J), 'gelu' (erf), 'silu' (LLaMA SwiGLU), 'relu' */
  activation: 'gelu_new' | 'gelu' | 'silu' | 'relu';
  tieWordEmbeddings: boolean;
  /** LLaMA family: q/k/v projections carry a bias (Qwen2). */
  attentionBias: boolean;
  mlpBias: boolean;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  /** GPT-J: rotary features per head (partial rotary); others: headDim. */
  rotaryDim: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
}

type Json = Record<string, unknown>;

function num(cfg: Json, file: string, ...keys: string[]): number {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  throw new Error(`${file}: missing numeric field ${keys.map((k) => `"${k}"`).join(' / ')}`);
}

function optNum(cfg: Json, ...keys: string[]): number | null {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  }
  return null;
}

function positiveInt(file: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${file}: "${name}" must be a positive integer, got ${v}`);
  return v;
}

const MODEL_TYPES: Record<string, ArchName> = {
  gpt2: 'gpt2',
  llama: 'llama',
  mistral: 'llama',
  qwen2: 'llama',
  gptj: 'gptj',
};

function ropeScaling(raw: unknown, file: string): RopeScaling {
  if (raw === null || raw === undefined) return { type: 'none' };
  if (typeof raw !== 'object') throw new Error(`${file}: "rope_scaling" must be an object or null`);
  const r = raw as Json;
  const type = (r['rope_type'] ?? r['type']) as string | undefined;
  const factor = typeof r['factor'] === 'number' ? r['factor'] : NaN;
  if (type === 'default') return { type: 'none' };
  if (type === 'linear') {
    if (!(factor > 0)) throw new Error(`${file}: rope_scaling.factor must be > 0`);
    return { type: 'linear', factor };
  }
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor,
      lowFreqFactor: num(r, `${file} rope_scaling`, 'low_freq_factor'),
      highFreqFactor: num(r, `${file} rope_scaling`, 'high_freq_factor'),
      originalMaxPositionEmbeddings: num(r, `${file} rope_scaling`, 'original_max_position_embeddings'),
    };
  }
  throw new Error(`${file}: rope_scaling type "${String(type)}" is not supported (supported: linear, llama3)`);
}

/**
 * Parse config.json contents. `file` names the source in errors.
 * @example const cfg = normalizeConfig(JSON.parse(readFileSync('config.json', 'utf8')), 'config.json');
 */
export function normalizeConfig(raw: unknown, file = 'config.json'): ModelConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: expected a JSON object`);
  const cfg = raw as Json;
  const modelType = cfg['model_type'];
  if (typeof modelType !== 'string') throw new Error(`${file}: missing "model_type"`);
  const arch = MODEL_TYPES[modelType];
  if (!arch) {
    throw new Error(`${file}: model_type "${modelType}" is not supported (supported: ${Object.keys(MODEL_TYPES).join(', ')})`);
  }
  const common = {
    modelType,
    bosTokenId: optNum(cfg, 'bos_token_id'),
    eosTokenId: optNum(cfg, 'eos_token_id'),
    padTokenId: optNum(cfg, 'pad_token_id'),
  };
  if (arch === 'gpt2' || arch === 'gptj') {
    const d = positiveInt(file, 'n_embd', num(cfg, file, 'n_embd', 'hidden_size'));
    const nHead = positiveInt(file, 'n_head', num(cfg, file, 'n_head', 'num_attention_heads'));
    if (d % nHead !== 0) throw new Error(`${file}: n_embd ${d} is not divisible by n_head ${nHead}`);
    const act = (cfg['activation_function'] ?? 'gelu_new') as string;
    if (act !== 'gelu_new' && act !== 'gelu' && act !== 'relu')
      throw new Error(`${file}: activation_function "${act}" is not supported`);
    if (arch === 'gpt2' && (cfg['scale_attn_by_inverse_layer_idx'] === true || cfg['reorder_and_upcast_attn'] === true)) {
      throw new Error(`${file}: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported`);
    }
    const inner = optNum(cfg, 'n_inner') ?? 4 * d;
    return {
      ...common,
      arch,
      vocabSize: positiveInt(file, 'vocab_size', num(cfg, file, 'vocab_size')),
      hiddenSize: d,
      numLayers: positiveInt(file, 'n_layer', num(cfg, file, 'n_layer', 'num_hidden_layers')),
      numHeads: nHead,
      numKvHeads: nHead,
      headDim: d / nHead,
      intermediateSize: positiveInt(file, 'n_inner', inner),
      maxPositions: positiveInt(file, 'n_positions', num(cfg, file, 'n_positions', 'max_position_embeddings')),
      normEps: num(cfg, file, 'layer_norm_epsilon'),
      activation: act,
      tieWordEmbeddings: arch === 'gpt2' ? cfg['tie_word_embeddings'] !== false : cfg['tie_word_embeddings'] === true,
      attentionBias: arch === 'gpt2',
      mlpBias: true,
      ropeTheta: 10000,
      ropeScaling: { type: 'none' },
      rotaryDim: arch === 'gptj' ? positiveInt(file, 'rotary_dim', optNum(cfg, 'rotary_dim') ?? d / nHead) : 0,
    };
  }
  // LLaMA family (LLaMA-1/2/3, Mistral, Qwen2)
  const d = positiveInt(file, 'hidden_size', num(cfg, file, 'hidden_size'));
  const nHead = positiveInt(file, 'num_attention_heads', num(cfg, file, 'num_attention_heads'));
  const nKv = positiveInt(file, 'num_key_value_heads', optNum(cfg, 'num_key_value_heads') ?? nHead);
  if (nHead % nKv !== 0) throw new Error(`${file}: num_attention_heads ${nHead} is not a multiple of num_key_value_heads ${nKv}`);
  const headDim = positiveInt(file, 'head_dim', optNum(cfg, 'head_dim') ?? d / nHead);
  const act = (cfg['hidden_act'] ?? 'silu') as string;
  if (act !== 'silu') throw new Error(`${file}: hidden_act "${act}" is not supported for ${modelType} (silu only)`);
  if (cfg['use_sliding_window'] === true) throw new Error(`${file}: sliding-window attention is not supported`);
  return {
    ...common,
    arch,
    vocabSize: positiveInt(file, 'vocab_size', num(cfg, file, 'vocab_size')),
    hiddenSize: d,
    numLayers: positiveInt(file, 'num_hidden_layers', num(cfg, file, 'num_hidden_layers')),
    numHeads: nHead,
    numKvHeads: nKv,
    headDim,
    intermediateSize: positiveInt(file, 'intermediate_size', num(cfg, file, 'intermediate_size')),
    maxPositions: positiveInt(file, 'max_position_embeddings', num(cfg, file, 'max_position_embeddings')),
    normEps: num(cfg, file, 'rms_norm_eps'),
    activation: 'silu',
    tieWordEmbeddings: cfg['tie_word_embeddings'] === true,
    attentionBias: cfg['attention_bias'] === true || modelType === 'qwen2',
    mlpBias: cfg['mlp_bias'] === true,
    ropeTheta: optNum(cfg, 'rope_theta') ?? 10000,
    ropeScaling: ropeScaling(cfg['rope_scaling'], file),
    rotaryDim: headDim,
  };
}
