/**
 * Test fixtures for the statistics tests that need no shared data: a tiny random GPT-2 built in
 * memory, a character tokenizer, a model wrapper counting forward passes, and temp folders.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../tensor/index.js';
import { normalizeConfig } from '../../models/config.js';
import { ARCHITECTURES } from '../../models/registry.js';
import type { CausalLM, ForwardInput, ForwardOutput } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';

/** A 3-layer GPT-2 (D 8, d_k 32, 64 positions, vocabulary 50) with seeded N(0, 0.3) weights. */
export function tinyGpt2(seed = 1): CausalLM {
  const cfg = normalizeConfig(
    { model_type: 'gpt2', vocab_size: 50, n_embd: 8, n_layer: 3, n_head: 2, n_positions: 64, layer_norm_epsilon: 1e-5 },
    'stats test config',
  );
  const def = ARCHITECTURES[cfg.arch];
  const rng = new T.Rng(seed);
  const params = new Map<string, T.Tensor>();
  for (const name of def.paramNames(cfg)) {
    const shape = def.shapeOf(cfg, name);
    const isNorm = /(ln_\d|ln_f)\.weight$/.test(name);
    const t = isNorm ? T.add(T.ones(shape), rng.normal(shape, 0.1, 0)) : rng.normal(shape, 0.3, 0);
    t.name = name;
    params.set(name, T.keep(t));
  }
  return def.create(cfg, params);
}

/** One token per code point (id = code point mod 49 + 1; BOS = 0 when asked). */
export function charTokenizer(): Tokenizer {
  const V = 50;
  return {
    kind: 'hf',
    vocabSize: V,
    bosId: 0,
    eosId: 0,
    padId: null,
    encode: (text, opts) => [...(opts?.addBos ? [0] : []), ...Array.from(text, (c) => (c.codePointAt(0)! % (V - 1)) + 1)],
    decode: (ids) => ids.map((i) => String.fromCodePoint(i + 64)).join(''),
    decodeToken: (id) => String.fromCodePoint(id + 64),
    idToToken: (id) => (id >= 0 && id < V ? String.fromCodePoint(id + 64) : null),
    tokenToId: (tok) => {
      const c = tok.codePointAt(0);
      return c !== undefined && c >= 64 && c < 64 + V ? c - 64 : null;
    },
  };
}

/** The same model with a counter of forward passes (the wrapper shares the parameters). */
export function countingModel(model: CausalLM): { model: CausalLM; forwards: () => number } {
  let n = 0;
  const wrapped = Object.create(model) as CausalLM & { forward: (i: ForwardInput) => ForwardOutput };
  wrapped.forward = (input: ForwardInput): ForwardOutput => {
    n++;
    return model.forward(input);
  };
  return { model: wrapped, forwards: () => n };
}

/** A fresh temporary folder and its remover. */
export function tempDir(prefix = 'lmedit-stats-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
