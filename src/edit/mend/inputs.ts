/**
 * MEND's inputs and losses: prompt + target batches with next-token labels on the target
 * (README.md, "The method", step 1; `legacy_mend_labels` reproduces EasyEdit's batch labels), the
 * token-mean target NLL, token accuracy and the masked locality KL(pre ‖ post).
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { Trace } from '../../models/hooks.js';
import type { CausalLM } from '../../models/types.js';
import type { EncodeOptions, Tokenizer } from '../../tokenizer/index.js';
import { spacedTarget } from '../request.js';

/** A prompt and the continuation to score (the target gets one leading space). */
export interface PromptTarget {
  prompt: string;
  target: string;
}

/** One batch: ids, padding mask and next-token labels. */
export interface LabelledBatch {
  /** int32 [B, L] */
  ids: Tensor;
  /** uint8 [B, L]; null when no row is padded */
  attentionMask: Tensor | null;
  /** int32 [B, L]; only for the legacy left-padded batch (HF's default 0..L−1 positions) */
  positionIds: Tensor | null;
  /** int32 [B, L − 1]: label of position t (the token at t + 1), −100 = not scored */
  labels: Tensor;
  /** scored tokens per row */
  counts: number[];
  dispose(): void;
}

/** Prompts as the other methods encode them: llama2.c no BOS, HF tokenizers their own specials; ' ' prefix only when missing. */
export function promptEncoding(tok: Tokenizer): EncodeOptions {
  return tok.kind === 'llama2c' ? { addBos: false, dummyPrefix: 'unless_space' } : { dummyPrefix: 'unless_space' };
}

const TARGET_ENCODING: EncodeOptions = { addSpecialTokens: false, dummyPrefix: 'unless_space' };

/** The id that fills padding (never scored in the default labels). */
export function padIdOf(tok: Tokenizer): number {
  return tok.padId ?? tok.eosId ?? 0;
}

function int32(rows: number[][], L: number, fill: number, left: boolean): Tensor {
  const flat = new Int32Array(rows.length * L).fill(fill);
  rows.forEach((r, b) => flat.set(r, b * L + (left ? L - r.length : 0)));
  return T.keep(T.tensor(flat, [rows.length, L], 'int32'));
}

function mask(lengths: number[], L: number, left: boolean): Tensor | null {
  if (lengths.every((n) => n === L)) return null;
  const m = new Uint8Array(lengths.length * L);
  lengths.forEach((n, b) => m.fill(1, b * L + (left ? L - n : 0), b * L + (left ? L : n)));
  return T.keep(T.tensor(m, [lengths.length, L], 'uint8'));
}

function batchOf(
  ids: Tensor,
  attentionMask: Tensor | null,
  positionIds: Tensor | null,
  labels: Int32Array,
  B: number,
  L: number,
  counts: number[],
): LabelledBatch {
  const labelT = T.keep(T.tensor(labels, [B, L - 1], 'int32'));
  return {
    ids,
    attentionMask,
    positionIds,
    labels: labelT,
    counts,
    dispose: () => [ids, attentionMask, positionIds, labelT].forEach((t) => t?.dispose()),
  };
}

/**
 * Default labels: each row is encode(prompt) ++ encode(' ' + target) right-padded (real
 * positions equal the unpadded ones); exactly the target tokens are scored.
 * @example const b = promptTargetBatch(tok, [{ prompt: 'The capital of France is', target: 'Rome' }]);
 */
export function promptTargetBatch(tok: Tokenizer, items: readonly PromptTarget[]): LabelledBatch {
  if (items.length === 0) throw new Error('MEND: empty batch');
  const penc = promptEncoding(tok);
  const rows: number[][] = [];
  const starts: number[] = [];
  items.forEach((it, i) => {
    const p = tok.encode(it.prompt, penc);
    const t = tok.encode(spacedTarget(it.target), TARGET_ENCODING);
    if (p.length === 0) throw new Error(`MEND: prompt ${i} ("${it.prompt}") has no tokens`);
    if (t.length === 0) throw new Error(`MEND: target ${i} ("${it.target}") has no tokens`);
    rows.push([...p, ...t]);
    starts.push(p.length);
  });
  const B = rows.length;
  const L = Math.max(...rows.map((r) => r.length));
  const labels = new Int32Array(B * (L - 1)).fill(-100);
  const counts = rows.map((r, b) => {
    for (let i = starts[b]!; i < r.length; i++) labels[b * (L - 1) + i - 1] = r[i]!;
    return r.length - starts[b]!;
  });
  return batchOf(
    int32(rows, L, padIdOf(tok), false),
    mask(
      rows.map((r) => r.length),
      L,
      false,
    ),
    null,
    labels,
    B,
    L,
    counts,
  );
}

/**
 * EasyEdit's batch (quirk 15, `legacy_mend_labels`): `prompt + ' ' + target` tokenised as one
 * text and left-padded with default positions 0..L−1; the labels are `tok(target)` (its own
 * special tokens, so LLaMA's BOS) left-padded with the pad id, aligned to the last K
 * shifted logits, and the pads are scored.
 */
export function legacyPromptTargetBatch(tok: Tokenizer, items: readonly PromptTarget[]): LabelledBatch {
  if (items.length === 0) throw new Error('MEND: empty batch');
  const pad = padIdOf(tok);
  const sentences = items.map((it) => tok.encode(it.prompt + spacedTarget(it.target)));
  const targets = items.map((it) => tok.encode(spacedTarget(it.target)));
  const B = items.length;
  const L = Math.max(...sentences.map((r) => r.length));
  const K = Math.max(...targets.map((r) => r.length));
  if (K > L - 1) throw new Error(`MEND (legacy labels): ${K} target labels do not fit ${L - 1} shifted positions`);
  const labels = new Int32Array(B * (L - 1)).fill(-100);
  targets.forEach((t, b) => {
    const padded = [...new Array<number>(K - t.length).fill(pad), ...t];
    padded.forEach((id, j) => (labels[b * (L - 1) + (L - 1 - K) + j] = id));
  });
  const attentionMask = mask(
    sentences.map((r) => r.length),
    L,
    true,
  );
  const positionIds = attentionMask
    ? T.keep(
        T.tensor(
          Int32Array.from({ length: B * L }, (_, i) => i % L),
          [B, L],
          'int32',
        ),
      )
    : null;
  return batchOf(int32(sentences, L, pad, true), attentionMask, positionIds, labels, B, L, new Array<number>(B).fill(K));
}

/** The batch for the configured label convention. */
export function editBatch(tok: Tokenizer, items: readonly PromptTarget[], legacy: boolean): LabelledBatch {
  return legacy ? legacyPromptTargetBatch(tok, items) : promptTargetBatch(tok, items);
}

/** Logits [B, L, V] of a batch. */
export function forwardBatch(model: CausalLM, b: LabelledBatch, trace?: Trace): Tensor {
  const { logits } = model.forward({
    ids: b.ids,
    ...(b.attentionMask ? { attentionMask: b.attentionMask } : {}),
    ...(b.positionIds ? { positionIds: b.positionIds } : {}),
    ...(trace ? { trace } : {}),
  });
  return logits!;
}

/** Mean NLL over every scored token of the batch (MEND's masked_log_probs "nll"). Scalar. */
export function targetNll(logits: Tensor, b: LabelledBatch): Tensor {
  const L = logits.shape[1]!;
  const shifted = T.narrow(logits, 1, 0, L - 1); // [B, L−1, V]: position t predicts t + 1
  return T.crossEntropy(shifted, b.labels, { ignoreIndex: -100 });
}

/** Per-row mean NLL of the scored tokens (diagnostics; no gradient). */
export function rowNll(logits: Tensor, b: LabelledBatch): number[] {
  return T.noGrad(() =>
    T.tidy(() => {
      const L = logits.shape[1]!;
      const per = T.crossEntropy(T.narrow(logits, 1, 0, L - 1), b.labels, { ignoreIndex: -100, reduction: 'none' }); // [B, L−1]
      const sums = T.sum(per, 1).toArray();
      return sums.map((s, i) => s / b.counts[i]!);
    }),
  );
}

/** Fraction of scored tokens whose argmax is the label (MEND's "acc"). */
export function tokenAccuracy(logits: Tensor, b: LabelledBatch): number {
  return T.noGrad(() =>
    T.tidy(() => {
      const L = logits.shape[1]!;
      const pred = T.argmax(T.narrow(logits, 1, 0, L - 1), -1).toArray(); // [B·(L−1)]
      const lab = b.labels.toArray();
      let hit = 0;
      let n = 0;
      lab.forEach((y, i) => {
        if (y === -100) return;
        n++;
        if (pred[i] === y) hit++;
      });
      return n === 0 ? NaN : hit / n;
    }),
  );
}

/**
 * Locality loss: KL(P_pre ‖ P_post) of the next-token distributions, averaged over every real
 * (unpadded) position (MEND's `kl_loc_loss` with the attention mask). Scalar.
 */
export function locKl(preLogProbs: Tensor, postLogits: Tensor, b: LabelledBatch): Tensor {
  const post = T.logSoftmax(postLogits, -1); // [B, L, V]
  const kl = T.kl(preLogProbs, post); // [B, L]
  if (!b.attentionMask) return T.mean(kl);
  const m = T.cast(b.attentionMask, kl.dtype); // [B, L]
  return T.div(T.sum(T.mul(kl, m)), T.sum(m));
}
