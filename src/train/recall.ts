/**
 * Greedy recall: does the model complete each prompt with exactly its answer? The metric an
 * `evaluate` callback of a fact-memorisation run needs.
 */
import * as T from '../tensor/index.js';
import type { CausalLM } from '../models/types.js';

export interface RecallItem {
  /** prompt token ids (without BOS: see `bosId`) */
  prompt: readonly number[];
  /** expected continuation token ids */
  answer: readonly number[];
}

export interface RecallOptions {
  /** prepended to every prompt, as the trainer frames documents (default none) */
  bosId?: number | null;
  /** prompts per forward; default 64 */
  batchSize?: number;
}

export interface RecallResult {
  /** fraction of items whose greedy continuation starts with the whole answer */
  accuracy: number;
  correct: boolean[];
  /** the greedy continuation of each item (answer length tokens) */
  predicted: number[][];
}

/**
 * Greedy-decode answer-length continuations (no padding: prompts are batched by length) and
 * compare them with the answers. Runs without gradients; frees everything it allocates.
 * @example const { accuracy } = greedyRecall(model, facts.map((f) => ({ prompt: f.prompt, answer: f.object })), { bosId: 1 });
 */
export function greedyRecall(model: CausalLM, items: readonly RecallItem[], opts: RecallOptions = {}): RecallResult {
  const bos = opts.bosId ?? null;
  const batchSize = opts.batchSize ?? 64;
  const prompts = items.map((it) => (bos === null ? [...it.prompt] : [bos, ...it.prompt]));
  const predicted: number[][] = items.map(() => []);
  const byLen = new Map<number, number[]>();
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`greedyRecall: item ${i} has an empty prompt`);
    if (items[i]!.answer.length === 0) throw new Error(`greedyRecall: item ${i} has an empty answer`);
    byLen.set(p.length, [...(byLen.get(p.length) ?? []), i]);
  });
  T.noGrad(() => {
    for (const group of byLen.values()) {
      for (let s = 0; s < group.length; s += batchSize) {
        const rows = group.slice(s, s + batchSize);
        const steps = Math.max(...rows.map((i) => items[i]!.answer.length));
        const seqs = rows.map((i) => [...prompts[i]!]);
        for (let k = 0; k < steps; k++) {
          const L = seqs[0]!.length;
          const next = T.tidy(() => {
            const ids = T.tensor(seqs.flat(), [rows.length, L], 'int32');
            const { logits } = model.forward({ ids, logits: 'last' });
            return T.argmax(T.reshape(logits!, [rows.length, logits!.shape[2]!]), -1).toArray();
          });
          rows.forEach((i, r) => {
            seqs[r]!.push(next[r]!);
            if (predicted[i]!.length < items[i]!.answer.length) predicted[i]!.push(next[r]!);
          });
        }
      }
    }
  });
  const correct = items.map((it, i) => it.answer.every((t, k) => predicted[i]![k] === t));
  return { accuracy: correct.filter(Boolean).length / Math.max(1, items.length), correct, predicted };
}
