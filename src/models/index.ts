/**
 * @module lmedit/models — Hugging Face causal LMs (GPT-2, LLaMA family, GPT-J): loading,
 * forward passes with hook points, generation and teacher-forced scoring.
 */
import { dirname } from 'node:path';
import { resolveModelDir, type ResolveModelOptions } from '../io/hf-hub.js';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import { loadModel, type LoadModelOptions } from './load.js';
import type { CausalLM } from './types.js';

export type { ArchName, ModelConfig, RopeScaling } from './config.js';
export { normalizeConfig } from './config.js';
export type { ArchitectureInfo, CausalLM, ForwardInput, ForwardOutput, KVCache, ModuleNames } from './types.js';
export { GPT2_MODULES } from './gpt2.js';
export { GPTJ_MODULES } from './gptj.js';
export { LLAMA_MODULES } from './llama.js';
export { Trace, StopForward, hook, type TraceOptions, type OutputEdit } from './hooks.js';
export { loadModel, readConfig, type LoadModelOptions, type WeightDTypeOption } from './load.js';
export { saveModel, type SaveModelOptions } from './save.js';
export { createModel, ARCHITECTURES } from './registry.js';
export { generate, leftPad, type GenerateOptions, type GenerateResult } from './generate.js';
export { scoreContinuations, type ScoreRequest, type ScoreResult } from './score.js';

export interface OpenedModel {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** local directory the model was read from */
  dir: string;
  /** the folder or file the tokenizer was read from (the model folder, its parent, or `tokenizer`) */
  tokenizerSource: string;
}

/**
 * Resolve a directory or hub id, load the model and its tokenizer (from the model directory,
 * else its parent folder, as for llama2.c-style `tok512.bin` beside `hf/`, else `tokenizer`).
 * @example const { model, tokenizer } = await openModel('gpt2-xl', { dtype: 'bfloat16' });
 */
export async function openModel(
  idOrPath: string,
  opts: LoadModelOptions & { tokenizer?: string; hub?: ResolveModelOptions } = {},
): Promise<OpenedModel> {
  const dir = await resolveModelDir(idOrPath, opts.hub ?? {});
  const candidates = opts.tokenizer ? [opts.tokenizer] : [dir, dirname(dir)];
  const errors: string[] = [];
  let tokenizer: Tokenizer | null = null;
  let tokenizerSource = '';
  for (const c of candidates) {
    try {
      tokenizer = await loadTokenizer(c);
      tokenizerSource = c;
      break;
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (!tokenizer) throw new Error(`no tokenizer for ${idOrPath}; pass --tokenizer PATH. Tried: ${errors.join(' | ')}`);
  return { model: loadModel(dir, opts), tokenizer, dir, tokenizerSource };
}
