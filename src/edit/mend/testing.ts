/**
 * Test fixtures for MEND (no ../shared needed): tiny random GPT-2 / LLaMA models with odd
 * sizes in float32 or float64, a one-token-per-character tokenizer, and records.
 */
import * as T from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { MendTrainRecord } from './trainer.js';
import { randomModel } from '../../models/testing.js';

export const TEST_VOCAB = 41;

const CONFIGS: Record<'gpt2' | 'llama', Record<string, unknown>> = {
  llama: {
    model_type: 'llama',
    vocab_size: TEST_VOCAB,
    hidden_size: 8,
    intermediate_size: 13,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
  },
  gpt2: {
    model_type: 'gpt2',
    vocab_size: TEST_VOCAB,
    n_embd: 6,
    n_inner: 11,
    n_layer: 2,
    n_head: 2,
    n_positions: 64,
    layer_norm_epsilon: 1e-5,
  },
};

/** A random model whose MLP matrices have odd shapes (LLaMA 8 ↔ 13, GPT-2 6 ↔ 11). */
export function tinyModel(kind: 'gpt2' | 'llama', dtype: 'float32' | 'float64' = 'float32', seed = 1): CausalLM {
  return randomModel(CONFIGS[kind], { std: 0.4, dtype, seed });
}

/** One token per non-space character (ids 3..V−1); pad/eos 0. */
export const charTokenizer: Tokenizer = {
  kind: 'hf',
  vocabSize: TEST_VOCAB,
  bosId: null,
  eosId: 0,
  padId: 0,
  encode: (text) => [...text].filter((c) => c !== ' ').map((c) => 3 + (c.codePointAt(0)! % (TEST_VOCAB - 3))),
  decode: (ids) => ids.map((i) => String.fromCodePoint(96 + (i % 26))).join(''),
  decodeToken: (id) => String.fromCodePoint(96 + (id % 26)),
  idToToken: (id) => String.fromCodePoint(96 + (id % 26)),
  tokenToId: () => null,
};

/** n deterministic training records of varying lengths. */
export function testRecords(n: number, seed = 7): MendTrainRecord[] {
  const rng = new T.Rng(seed);
  const word = (len: number) => Array.from({ length: len }, () => String.fromCodePoint(97 + rng.nextInt(26))).join('');
  return Array.from({ length: n }, () => ({
    prompt: `${word(3 + rng.nextInt(4))} ${word(3)}`,
    target: word(1 + rng.nextInt(3)),
    rephrase: `${word(2 + rng.nextInt(4))} ${word(3)}`,
    loc: word(4 + rng.nextInt(3)),
    locAnswer: word(2),
  }));
}
