/**
 * The two fine-tuning objectives (README.md, "The method"): FT-L scores every target token from the
 * logits at the last prompt position; FT-M is teacher-forced cross-entropy on prompt + target
 * masked to the target tokens. Both return one loss per example; the batch loss is their mean.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { EncodeOptions, Tokenizer } from '../../tokenizer/index.js';

/**
 * Encoding of edit texts: HF tokenizers keep their own special tokens (LLaMA: BOS, as
 * EasyEdit's `tok(txt)`); llama2.c tokenizers get no BOS (the ROME/MEMIT/FT golden
 * convention); the dummy prefix is added only when the text lacks a leading space, so
 * `encode(' Rome') == encode('Rome')`.
 */
export function promptEncoding(tok: Tokenizer): EncodeOptions {
  return tok.kind === 'llama2c' ? { addBos: false, dummyPrefix: 'unless_space' } : { dummyPrefix: 'unless_space' };
}

/** Targets are encoded without special tokens (../shared/README.md, "Requests"). */
export function targetEncoding(): EncodeOptions {
  return { addSpecialTokens: false, dummyPrefix: 'unless_space' };
}

/** The tokenizer's unk id (`<unk>`; GPT-2 has none and HF maps unk to `<|endoftext|>`), or null. */
export function unkId(tok: Tokenizer): number | null {
  return tok.tokenToId('<unk>') ?? tok.tokenToId('<|endoftext|>');
}

/** Id used to fill padding (never scored). */
export function padId(tok: Tokenizer): number {
  return tok.padId ?? tok.eosId ?? 0;
}

/** The tokens of one prompt and its target. */
export interface Example {
  promptIds: number[];
  targetIds: number[];
}

/** Tensors of one mini-batch, built once and reused every epoch. */
export interface LossBatch {
  /** int32 [B, L] */
  ids: Tensor;
  /** uint8 [B, L], null when no row is padded */
  attentionMask: Tensor | null;
  /** int32 [B, L], only for the legacy left-padded FT-L batch (HF's default arange positions) */
  positionIds: Tensor | null;
  /** FT-L: flat row b·L + position of the logits scored for each example; int32 [B] */
  readRows: Tensor | null;
  /** FT-L: int32 [B, K] target ids (padding → 0); FT-M: int32 [B, L−1] next-token labels (−100 = not scored) */
  targets: Tensor;
  /** FT-L: float32 [B, K] 1 = scored target token */
  targetMask: Tensor | null;
  /** float32 [B] number of scored tokens per example */
  counts: Tensor;
  /** every row has the same length and the last position is the one read (FT-L reads logits 'last') */
  lastOnly: boolean;
  dispose(): void;
}

/** t in ref's dtype (float64 models train in float64). */
function like(t: Tensor, ref: Tensor): Tensor {
  return t.dtype === ref.dtype ? t : T.cast(t, ref.dtype);
}

function disposer(ts: (Tensor | null)[]): () => void {
  return () => ts.forEach((t) => t?.dispose());
}

function rowsTensor(rows: number[][], L: number, fill: number, left: boolean): Tensor {
  const flat = new Int32Array(rows.length * L).fill(fill);
  rows.forEach((r, b) => flat.set(r, b * L + (left ? L - r.length : 0)));
  return T.keep(T.tensor(flat, [rows.length, L], 'int32'));
}

function maskTensor(lengths: number[], L: number, left: boolean): Tensor | null {
  if (lengths.every((n) => n === L)) return null;
  const m = new Uint8Array(lengths.length * L);
  lengths.forEach((n, b) => m.fill(1, b * L + (left ? L - n : 0), b * L + (left ? L : n)));
  return T.keep(T.tensor(m, [lengths.length, L], 'uint8'));
}

/**
 * FT-L batch: prompts right-padded (their outputs equal the unpadded ones), the logits read at
 * each prompt's true last token. With `legacyLastIndex` the batch is left-padded with default
 * positions 0..L−1 (EasyEdit's tokenizer and model call) and read at `mask.sum − 1`, which
 * is the wrong position for every row shorter than the longest (quirk 13).
 * Target tokens equal to `unk` are not scored (for GPT-2 that is `<|endoftext|>` = pad).
 */
export function promptLastBatch(
  examples: readonly Example[],
  opts: { pad: number; unk: number | null; legacyLastIndex: boolean },
): LossBatch {
  const B = examples.length;
  const lengths = examples.map((e) => e.promptIds.length);
  const L = Math.max(...lengths);
  const K = Math.max(...examples.map((e) => e.targetIds.length));
  const legacy = opts.legacyLastIndex;
  const ids = rowsTensor(
    examples.map((e) => e.promptIds),
    L,
    opts.pad,
    legacy,
  );
  const attentionMask = maskTensor(lengths, L, legacy);
  const positionIds =
    legacy && attentionMask
      ? T.keep(
          T.tensor(
            Int32Array.from({ length: B * L }, (_, i) => i % L),
            [B, L],
            'int32',
          ),
        )
      : null;
  const readRows = T.keep(
    T.tensor(
      Int32Array.from(lengths, (n, b) => b * L + n - 1),
      [B],
      'int32',
    ),
  );
  const tgt = new Int32Array(B * K);
  const tmask = new Float32Array(B * K);
  const counts = new Float32Array(B);
  examples.forEach((e, b) => {
    e.targetIds.forEach((t, j) => {
      tgt[b * K + j] = t;
      if (t !== opts.unk) {
        tmask[b * K + j] = 1;
        counts[b]! += 1;
      }
    });
    if (counts[b] === 0) throw new Error(`FT-L: example ${b} has no target token to score (all are unk)`);
  });
  const targets = T.keep(T.tensor(tgt, [B, K], 'int32'));
  const targetMask = T.keep(T.tensor(tmask, [B, K], 'float32'));
  const countsT = T.keep(T.tensor(counts, [B], 'float32'));
  const lastOnly = attentionMask === null;
  return {
    ids,
    attentionMask,
    positionIds,
    readRows,
    targets,
    targetMask,
    counts: countsT,
    lastOnly,
    dispose: disposer([ids, attentionMask, positionIds, readRows, targets, targetMask, countsT]),
  };
}

/**
 * FT-L loss per example: −(1/|t|) Σ_j log softmax(logits at the last prompt position)[t_j].
 * Every target token is scored from the same logit vector (the method's definition). [B]
 * @example const perExample = promptLastLoss(model, promptLastBatch(examples, { pad, unk, legacyLastIndex: false }));
 */
export function promptLastLoss(model: CausalLM, batch: LossBatch): Tensor {
  const { logits } = model.forward({
    ids: batch.ids,
    ...(batch.attentionMask ? { attentionMask: batch.attentionMask } : {}),
    ...(batch.positionIds ? { positionIds: batch.positionIds } : {}),
    logits: batch.lastOnly ? 'last' : 'all',
  });
  const [B, Lo, V] = logits!.shape as [number, number, number];
  const flat = T.reshape(logits!, [B * Lo, V]); // [B·L, V]
  const last = batch.lastOnly ? flat : T.indexSelect(flat, batch.readRows!); // [B, V]
  const logProbs = T.logSoftmax(last, -1); // [B, V]
  const picked = T.gather(logProbs, batch.targets); // [B, K]
  const scored = T.sum(T.mul(picked, like(batch.targetMask!, picked)), 1); // [B]
  return T.neg(T.div(scored, like(batch.counts, scored))); // [B]
}

/**
 * FT-M batch: prompt + target ids (tokenised together, as EasyEdit does) right-padded; the
 * label of position t is token t + 1 when that token belongs to the target (index >= the
 * prompt's own token count), else −100.
 */
export function targetNewBatch(rows: readonly { ids: number[]; promptLength: number }[], opts: { pad: number }): LossBatch {
  const B = rows.length;
  const lengths = rows.map((r) => r.ids.length);
  const L = Math.max(...lengths);
  if (L < 2) throw new Error('FT-M: prompt + target must have at least two tokens');
  const ids = rowsTensor(
    rows.map((r) => r.ids),
    L,
    opts.pad,
    false,
  );
  const attentionMask = maskTensor(lengths, L, false);
  const labels = new Int32Array(B * (L - 1)).fill(-100);
  const counts = new Float32Array(B);
  rows.forEach((r, b) => {
    for (let i = Math.max(r.promptLength, 1); i < r.ids.length; i++) {
      labels[b * (L - 1) + i - 1] = r.ids[i]!;
      counts[b]! += 1;
    }
    if (counts[b] === 0) throw new Error(`FT-M: example ${b} has no target token after its prompt`);
  });
  const targets = T.keep(T.tensor(labels, [B, L - 1], 'int32'));
  const countsT = T.keep(T.tensor(counts, [B], 'float32'));
  return {
    ids,
    attentionMask,
    positionIds: null,
    readRows: null,
    targets,
    targetMask: null,
    counts: countsT,
    lastOnly: false,
    dispose: disposer([ids, attentionMask, targets, countsT]),
  };
}

/**
 * FT-M loss per example: mean over target positions of −log p(token t+1 | tokens ≤ t). [B]
 * @example const perExample = targetNewLoss(model, targetNewBatch(rows, { pad }));
 */
export function targetNewLoss(model: CausalLM, batch: LossBatch): Tensor {
  const { logits } = model.forward({ ids: batch.ids, ...(batch.attentionMask ? { attentionMask: batch.attentionMask } : {}) });
  const L = logits!.shape[1]!;
  const shifted = T.narrow(logits!, 1, 0, L - 1); // [B, L−1, V]: position t predicts t + 1
  const perToken = T.crossEntropy(shifted, batch.targets, { ignoreIndex: -100, reduction: 'none' }); // [B, L−1], 0 where ignored
  const summed = T.sum(perToken, 1); // [B]
  return T.div(summed, like(batch.counts, summed)); // [B]
}
