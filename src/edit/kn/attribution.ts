/**
 * KN step 1 (README.md, "The method"): integrated-gradient attribution of every FFN neuron, for every
 * layer, at the last prompt position, for the probability of the ground-truth answer tokens.
 * One batched forward per chunk of `batch_size` integration points; the blocks below the hooked
 * layer run once per prompt and are reused; gradients flow only to the patched activation rows.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { Trace } from '../../models/hooks.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { moduleAt } from '../hparams.js';
import { ResumeTrace } from '../shared/resume-trace.js';
import { knLayerNames, knModules, type KNModules } from './modules.js';

/**
 * torch.linspace(0, 1, m) in float32, value for value: the first half counts up from 0, the
 * second half down from 1 (m = 1 gives [0]).
 * @example linspace32(3) // [0, 0.5, 1]
 */
export function linspace32(m: number): Float32Array {
  const out = new Float32Array(m);
  if (m === 1) return out;
  const step = Math.fround(1 / (m - 1));
  const half = Math.floor(m / 2);
  for (let i = 0; i < m; i++) out[i] = i < half ? Math.fround(step * i) : Math.fround(1 - Math.fround(step * (m - 1 - i)));
  return out;
}

/** What every IG pass over one prompt shares (from one clean forward). Dispose with {@link disposeBaseline}. */
export interface Baseline {
  ids: number[];
  /** a_l: the hooked activation at the last prompt position, per layer [F] */
  acts: Float32Array[];
  /** output of block l [1, T, D] for l < L − 1: the resume point of layer l + 1's passes */
  blockOut: Tensor[];
  /** the model's argmax next token after the prompt */
  argmax: number;
  /** d_ff: width of the hooked activation */
  width: number;
}

/**
 * The clean forward of one prompt: activations to scale, block outputs to resume from, argmax.
 * @example const b = runBaseline(model, knModules(model), ids); ...; disposeBaseline(b);
 */
export function runBaseline(model: CausalLM, mods: KNModules, ids: readonly number[]): Baseline {
  const L = model.arch.numLayers;
  const Tn = ids.length;
  if (Tn === 0) throw new Error('KN: the prompt encodes to no tokens');
  const actNames = Array.from({ length: L }, (_, l) => knLayerNames(mods, l).activation);
  const blockNames = Array.from({ length: L - 1 }, (_, l) => moduleAt(model.arch.layerTemplate, l));
  return T.noGrad(() =>
    T.tidy(() => {
      const tr = new Trace({ retainOutput: [...actNames, ...blockNames] });
      try {
        const idsT = T.tensor(Int32Array.from(ids), [1, Tn], 'int32');
        const out = model.forward({ ids: idsT, trace: tr, logits: 'last' });
        const argmax = T.argmax(T.reshape(out.logits!, [-1])).toArray()[0]!;
        const acts = actNames.map((n) => {
          const h = tr.output(n); // [1, T, F]
          return Float32Array.from(T.cast(T.select(T.select(h, 0, 0), 0, Tn - 1), 'float32').toArray()); // [F]
        });
        const blockOut = blockNames.map((n) => T.keep(T.clone(tr.output(n)))); // [1, T, D]
        return { ids: [...ids], acts, blockOut, argmax, width: acts[0]!.length };
      } finally {
        tr.dispose();
      }
    }),
  );
}

export function disposeBaseline(b: Baseline): void {
  for (const t of b.blockOut) t.dispose();
  b.blockOut.length = 0;
}

/**
 * Σ_b Σ_t P_b(y_t): the next-token probability of each target token after the prompt, summed
 * over the batch, where row b's hooked activation at the last position is replaced by X[b]
 * (X [B, F], gradients flow to it). Runs only the blocks from `layer` up.
 * @example const [g] = T.grad(() => patchedProbability(model, mods, base, 2, X, [9669]), [X]);
 */
export function patchedProbability(
  model: CausalLM,
  mods: KNModules,
  base: Baseline,
  layer: number,
  X: Tensor,
  targets: readonly number[],
): Tensor {
  const B = X.shape[0]!;
  const F = base.width;
  const Tn = base.ids.length;
  const tiled = new Int32Array(B * Tn);
  for (let b = 0; b < B; b++) tiled.set(base.ids, b * Tn);
  const ids = T.tensor(tiled, [B, Tn], 'int32');
  const lastRows = T.tensor(
    Int32Array.from({ length: B }, (_, b) => b * Tn + Tn - 1),
    [B],
    'int32',
  );
  const targetIdx = T.tensor(
    Int32Array.from({ length: B * targets.length }, (_, k) => targets[k % targets.length]!),
    [B, targets.length],
    'int32',
  );
  const { activation } = knLayerNames(mods, layer);
  const edit = {
    [activation]: (out: Tensor): Tensor => {
      const rows = out.dtype === X.dtype ? X : T.cast(X, out.dtype); // float64 models; the cast passes the gradient
      return T.reshape(T.setRows(T.reshape(out, [B * Tn, F]), lastRows, rows), [B, Tn, F]); // [B, T, F]
    },
  };
  const D = model.arch.hiddenSize;
  const tr =
    layer === 0
      ? new Trace({ edit })
      : new ResumeTrace(model, layer - 1, () => T.contiguous(T.expand(base.blockOut[layer - 1]!, [B, Tn, D])), { edit });
  try {
    const out = model.forward({ ids, trace: tr, logits: 'last' });
    const probs = T.softmax(T.reshape(out.logits!, [B, -1]), -1); // [B, V]
    return T.sum(T.gather(probs, targetIdx)); // scalar
  } finally {
    tr.dispose();
  }
}

/**
 * One layer's integrated gradients: a ⊙ Σ_s ∂P/∂(α_s a) / m over α = linspace(0, 1, m), the
 * m points taken `batchSize` at a time. Returns [F] (float64, not yet divided by |y|).
 */
export function layerAttribution(
  model: CausalLM,
  mods: KNModules,
  base: Baseline,
  layer: number,
  targets: readonly number[],
  steps: number,
  batchSize: number,
): Float64Array {
  const a = base.acts[layer]!;
  const F = a.length;
  const alphas = linspace32(steps);
  const gSum = new Float64Array(F);
  for (let c = 0; c < steps; c += batchSize) {
    const B = Math.min(batchSize, steps - c);
    T.tidy(() => {
      const xs = new Float32Array(B * F);
      for (let b = 0; b < B; b++) {
        const alpha = alphas[c + b]!;
        for (let i = 0; i < F; i++) xs[b * F + i] = Math.fround(alpha * a[i]!);
      }
      const X = T.tensor(xs, [B, F]); // the replaced activation rows α_s·a, the only gradient leaf
      const [g] = T.grad(() => patchedProbability(model, mods, base, layer, X, targets), [X]);
      const rowSum = T.noGrad(() => T.sum(g!, 0)).toArray(); // [F]
      for (let i = 0; i < F; i++) gSum[i]! += rowSum[i]!;
    });
  }
  const out = new Float64Array(F);
  for (let i = 0; i < F; i++) out[i] = (a[i]! * gSum[i]!) / steps;
  return out;
}

export interface PromptScores {
  /** S [L, F] row-major */
  scores: Float32Array;
  layers: number;
  width: number;
  /** the token ids each attribution point used and the answer tokens scored there */
  points: { ids: number[]; targets: number[] }[];
}

/**
 * S [L, F] for one prompt: mean over the answer tokens y_t of the per-layer attributions.
 * With `extendPrompt` each y_t is scored after the prompt extended by the decoded argmax tokens
 * (re-tokenised); without it every y_t is scored at the bare prompt (reference GPT-2 / GPT-J).
 * @example const { scores } = knScores(model, tok, 'LeBron James plays the sport of', [9669], { steps: 20, batchSize: 20, extendPrompt: false });
 */
export function knScores(
  model: CausalLM,
  tok: Tokenizer,
  prompt: string,
  truthIds: readonly number[],
  opts: { steps: number; batchSize: number; extendPrompt: boolean; log?: (m: string) => void },
): PromptScores {
  if (truthIds.length === 0) throw new Error('KN: the ground-truth answer encodes to no tokens');
  const mods = knModules(model);
  const L = model.arch.numLayers;
  const nPoints = opts.extendPrompt ? truthIds.length : 1;
  let acc: Float64Array | null = null;
  let width = 0;
  const points: PromptScores['points'] = [];
  let text = prompt;
  for (let t = 0; t < nPoints; t++) {
    const ids = tok.encode(text);
    const targets = opts.extendPrompt ? [truthIds[t]!] : [...truthIds];
    points.push({ ids, targets });
    const base = runBaseline(model, mods, ids);
    try {
      width = base.width;
      acc ??= new Float64Array(L * width);
      for (let l = 0; l < L; l++) {
        const attr = layerAttribution(model, mods, base, l, targets, opts.steps, opts.batchSize);
        for (let i = 0; i < width; i++) acc[l * width + i]! += attr[i]!;
      }
      opts.log?.(`KN: attribution point ${t + 1}/${nPoints} (${ids.length} tokens, ${L} layers)`);
      if (opts.extendPrompt) text += tok.decode([base.argmax]);
    } finally {
      disposeBaseline(base);
    }
  }
  const scores = new Float32Array(L * width);
  for (let k = 0; k < scores.length; k++) scores[k] = acc![k]! / truthIds.length;
  return { scores, layers: L, width, points };
}
