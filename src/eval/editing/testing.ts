/**
 * Test helpers for the editing metrics: a greedy longest-match tokenizer over a small vocabulary
 * (characters plus optional multi-character pieces), and a bigram "model" whose logits are a
 * hand-written table, so expected accuracies can be worked out on paper.
 */
import * as T from '../../tensor/index.js';
import { randomModel } from '../../models/testing.js';
import type { CausalLM, ForwardInput, ForwardOutput } from '../../models/types.js';
import type { DecodeOptions, EncodeOptions, Tokenizer } from '../../tokenizer/index.js';

/**
 * Ids: 0 = EOS/pad `</s>`, 1 = BOS `<s>`, then the pieces in order. Encoding takes the longest
 * piece at each position and skips characters no piece covers; BOS is added unless
 * `addBos: false` (or `bos: false` for the whole tokenizer, GPT-2 style).
 */
export function pieceTokenizer(pieces: readonly string[], opts: { bos?: boolean } = {}): Tokenizer {
  const vocab = ['</s>', '<s>', ...pieces];
  const ids = new Map(vocab.map((p, i) => [p, i]));
  const longest = Math.max(...pieces.map((p) => p.length));
  const decodeToken = (id: number): string => {
    const p = vocab[id];
    if (p === undefined) throw new RangeError(`token id ${id} out of range`);
    return p;
  };
  return {
    kind: 'hf',
    vocabSize: vocab.length,
    bosId: opts.bos === false ? null : 1,
    eosId: 0,
    padId: 0,
    encode(text: string, o: EncodeOptions = {}): number[] {
      const out: number[] = [];
      if ((o.addBos ?? (o.addSpecialTokens !== false && opts.bos !== false)) === true) out.push(1);
      for (let i = 0; i < text.length;) {
        let len = Math.min(longest, text.length - i);
        while (len > 0 && !ids.has(text.slice(i, i + len))) len--;
        if (len === 0) i++;
        else {
          out.push(ids.get(text.slice(i, i + len))!);
          i += len;
        }
      }
      return out;
    },
    decode: (list: readonly number[], o: DecodeOptions = {}): string =>
      list
        .filter((t) => !(o.skipSpecialTokens && t < 2))
        .map(decodeToken)
        .join(''),
    decodeToken,
    idToToken: (id: number) => vocab[id] ?? null,
    tokenToId: (t: string) => ids.get(t) ?? null,
  };
}

/**
 * A model whose logits at each position depend only on the token there: row `table(t)` (length
 * V). Padding and positions are irrelevant to it, which is what makes hand computation easy.
 */
export function bigramModel(vocabSize: number, table: (token: number) => number[]): CausalLM {
  const base = randomModel({
    model_type: 'gpt2',
    vocab_size: vocabSize,
    n_embd: 4,
    n_layer: 1,
    n_head: 1,
    n_positions: 256,
    layer_norm_epsilon: 1e-5,
  });
  const { config, arch } = base;
  base.dispose();
  return {
    config,
    arch,
    params: new Map(),
    hookPoints: new Set(),
    forward(input: ForwardInput): ForwardOutput {
      const [B, Tn] = input.ids.shape as [number, number];
      const ids = input.ids.toArray();
      const rows =
        input.logits === 'last'
          ? Array.from({ length: B }, (_, b) => [ids[b * Tn + Tn - 1]!])
          : Array.from({ length: B }, (_, b) => ids.slice(b * Tn, (b + 1) * Tn));
      const data = new Float32Array(rows.length * rows[0]!.length * vocabSize);
      rows.flat().forEach((t, i) => data.set(table(t), i * vocabSize));
      const past = input.cache?.length ?? 0;
      return {
        logits: T.tensor(data, [B, rows[0]!.length, vocabSize]),
        hidden: null,
        cache: input.useCache || input.cache ? { layers: [], length: past + Tn } : null,
        stoppedAfter: null,
      };
    },
    param(name: string) {
      throw new Error(`bigram model has no parameter ${name}`);
    },
    finalNorm() {
      throw new Error('bigram model has no final norm');
    },
    lmHead() {
      throw new Error('bigram model has no LM head');
    },
    dispose() {},
  };
}

/** A small random GPT-2 over a test tokenizer's vocabulary (16 wide, 2 layers, 2 heads). */
export function tinyGpt2(vocabSize: number, seed: number): CausalLM {
  return randomModel(
    { model_type: 'gpt2', vocab_size: vocabSize, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 128, layer_norm_epsilon: 1e-5 },
    { std: 0.3, seed },
  );
}
