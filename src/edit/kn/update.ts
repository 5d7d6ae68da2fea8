/**
 * KN step 3 (README.md, "The method", `edit_knowledge`): the greedy probe the reference code runs before
 * and after the edit, and the value-slot update v_{l,i} ← v_{l,i} − c_old·E(old) + c_new·E(new)
 * written as one dense ΔW per edited layer (no per-neuron tensors).
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import type { KNHParams } from './hparams.js';
import { knLayerNames, type KNModules } from './modules.js';

export interface Probe {
  /** Π_i P(target_i) where step i reads the prompt extended by the i previous ARGMAX tokens */
  targetProb: number;
  /** Π_i of the argmax probabilities */
  argmaxProb: number;
  /** the greedy tokens, one per target token */
  argmaxTokens: number[];
  /** their decoded text, concatenated */
  completion: string;
}

/**
 * The reference `_generate(prompt, target)`: |target| greedy steps, re-tokenising the text
 * extended by each decoded argmax token; the target token i is scored at step i.
 * @example greedyProbe(model, tok, 'LeBron James plays the sport of', tok.encode(' ice hockey'))
 */
export function greedyProbe(model: CausalLM, tok: Tokenizer, prompt: string, targetIds: readonly number[]): Probe {
  let text = prompt;
  let targetProb = 1;
  let argmaxProb = 1;
  const argmaxTokens: number[] = [];
  let completion = '';
  for (const target of targetIds) {
    const ids = tok.encode(text);
    const probs = T.noGrad(() =>
      T.tidy(() => {
        const out = model.forward({ ids: T.tensor(Int32Array.from(ids), [1, ids.length], 'int32'), logits: 'last' });
        return T.softmax(T.reshape(out.logits!, [-1]), -1).toArray(); // [V]
      }),
    );
    let best = 0;
    for (let v = 1; v < probs.length; v++) if (probs[v]! > probs[best]!) best = v;
    targetProb *= probs[target]!;
    argmaxProb *= probs[best]!;
    argmaxTokens.push(best);
    const piece = tok.decode([best]);
    text += piece;
    completion += piece;
  }
  return { targetProb, argmaxProb, argmaxTokens, completion };
}

/** Token ids with the factor of their embedding in the slot update. */
export type WeightedTokens = { id: number; factor: number }[];

/**
 * The reference factors (quirk 14): the old prediction's embedding is subtracted twice when it
 * is one token ('first' always is), once per token otherwise; the target's embeddings are added
 * once each (it is always a list), or twice for a single token with `kn_symmetric`.
 * @example slotTokens([13084], [4771, 12217], hp) // [{id: 13084, factor: -2}, {id: 4771, factor: 1}, {id: 12217, factor: 1}]
 */
export function slotTokens(
  oldIds: readonly number[],
  newIds: readonly number[],
  hp: Pick<KNHParams, 'kn_old_tokens' | 'kn_symmetric'>,
): WeightedTokens {
  if (oldIds.length === 0) throw new Error('KN: no old prediction to subtract');
  if (newIds.length === 0) throw new Error('KN: the target encodes to no tokens');
  const old = hp.kn_old_tokens === 'first' ? [oldIds[0]!] : [...oldIds];
  return [
    ...old.map((id) => ({ id, factor: old.length === 1 ? -2 : -1 })),
    ...newIds.map((id) => ({ id, factor: hp.kn_symmetric && newIds.length === 1 ? 2 : 1 })),
  ];
}

/** Σ factor · E[id] [D] (float64 sum, rounded once to float32). */
export function slotVector(model: CausalLM, mods: KNModules, tokens: WeightedTokens): Float32Array {
  const E = model.param(mods.embedding); // [V, D]
  const [V, D] = [E.shape[0]!, E.shape[1]!];
  for (const { id } of tokens)
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new Error(`KN: token id ${id} is outside the embedding [0, ${V})`);
  const rows = T.noGrad(() =>
    T.tidy(() =>
      T.cast(T.indexSelect(E, T.tensor(Int32Array.from(tokens.map((t) => t.id)), [tokens.length], 'int32')), 'float32').toArray(),
    ),
  ); // [n, D]
  const acc = new Float64Array(D);
  tokens.forEach(({ factor }, r) => {
    for (let d = 0; d < D; d++) acc[d]! += factor * rows[r * D + d]!;
  });
  return Float32Array.from(acc);
}

/**
 * Dense ΔW (stored layout) of one layer: `v` in the value slot of every listed neuron — ROW i of
 * a GPT-2 Conv1D [d_ff, d], COLUMN i of a Linear [d, d_ff]. One tensor per layer whatever the
 * number of neurons. The caller owns the result.
 * @example const dW = layerDelta(model, mods, 0, [46, 63], v); editor.add(name, dW); dW.dispose();
 */
export function layerDelta(model: CausalLM, mods: KNModules, layer: number, indices: readonly number[], v: Float32Array): Tensor {
  const W = model.param(knLayerNames(mods, layer).value);
  const [R, C] = [W.shape[0]!, W.shape[1]!];
  const [F, D] = mods.slot === 'row' ? [R, C] : [C, R];
  if (v.length !== D)
    throw new Error(`KN: the slot vector has ${v.length} entries, the value weight ${W.name ?? ''} [${R}, ${C}] needs ${D}`);
  const dW = T.zeros([R, C]);
  const d = dW.storage as Float32Array;
  for (const i of indices) {
    if (!(i >= 0 && i < F)) throw new Error(`KN: neuron ${i} is outside d_ff = ${F}`);
    if (mods.slot === 'row') {
      for (let k = 0; k < D; k++) d[i * D + k]! += v[k]!;
    } else {
      for (let k = 0; k < D; k++) d[k * F + i]! += v[k]!;
    }
  }
  return dW;
}
