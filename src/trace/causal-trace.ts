/**
 * Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT", §2.1;
 * kmeng01/rome experiments/causal_trace.py): which hidden states carry a fact.
 *
 * Three runs of the model on one prompt:
 *  - clean: the prompt as it is; p_clean = p(answer | prompt) at the last position;
 *  - corrupted: Gaussian noise (σ = noise × the embeddings' std) added to the token embeddings of
 *    the subject, `samples` times with different noise; p_corrupted = mean over samples;
 *  - corrupted-with-restoration: the same noisy runs, but one state (a block's output at one
 *    (token, layer), or the MLP / attention outputs of a window of layers at one token) is
 *    replaced by its value in the clean run. Its p minus p_corrupted is the state's indirect effect.
 *
 * The same noise draws are used for every restoration (as the original, which reseeds before each
 * run), so restoring nothing reproduces p_corrupted and the grid differences are due to the
 * restoration alone. Restorations are batched: one forward runs many (state, sample) rows.
 *
 * Shapes: S samples, Tn prompt tokens, D hidden size, V vocabulary, L layers.
 */
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import { Trace, type CausalLM, type OutputEdit } from '../models/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { encodeTarget, promptEncoding } from '../edit/shared/subject-index.js';
import { spacedTarget } from '../edit/request.js';

/** What is restored: a block's output (residual stream), or the MLP / attention outputs of a window of layers. */
export type TraceKind = 'hidden' | 'mlp' | 'attn';
export const TRACE_KINDS: readonly TraceKind[] = ['hidden', 'mlp', 'attn'];

/** One state restored to its clean value: the output of `module` (an HF module name) at prompt position `token`. */
export interface RestoredState {
  token: number;
  module: string;
}

/** States restored together in one corrupted run (empty: the plain corrupted run). */
export type RestoreSet = readonly RestoredState[];

/** The module name template of a kind (`{}` is the layer). */
export function kindTemplate(model: CausalLM, kind: TraceKind): string {
  const a = model.arch;
  return kind === 'hidden' ? a.layerTemplate : kind === 'mlp' ? a.mlpTemplate : a.attnTemplate;
}

/** The module of `kind` at `layer`. */
export function kindModule(model: CausalLM, kind: TraceKind, layer: number): string {
  return kindTemplate(model, kind).replace('{}', String(layer));
}

/**
 * The layers [lo, hi) restored for a cell centred on `layer`: `window` layers, half before and
 * half after (the centre counts in the upper half), clipped at the ends, as the original's
 * `range(max(0, layer - window // 2), min(L, layer - (-window // 2)))`.
 */
export function windowLayers(numLayers: number, layer: number, window: number): [number, number] {
  return [Math.max(0, layer - Math.floor(window / 2)), Math.min(numLayers, layer + Math.ceil(window / 2))];
}

/** The states of one heat-map cell: the block output at (token, layer), or a window of MLP / attention outputs. */
export function cellStates(model: CausalLM, kind: TraceKind, token: number, layer: number, window: number): RestoredState[] {
  if (kind === 'hidden') return [{ token, module: kindModule(model, kind, layer) }];
  const [lo, hi] = windowLayers(model.arch.numLayers, layer, window);
  const out: RestoredState[] = [];
  for (let l = lo; l < hi; l++) out.push({ token, module: kindModule(model, kind, l) });
  return out;
}

/**
 * The token range [start, end) of `subject` in the tokenised prompt: each token decoded on its own
 * (special tokens as ''), the pieces concatenated, and the tokens overlapping the subject's first
 * occurrence taken (the original's `find_token_range`). A dummy-prefix space (llama2.c) is
 * allowed for by aligning the decoded text's end with the prompt.
 */
export function subjectTokenRange(
  tokenizer: Tokenizer,
  ids: readonly number[],
  prompt: string,
  subject: string,
): [number, number] {
  if (subject.trim() === '') throw new Error('the subject is empty');
  const inPrompt = prompt.indexOf(subject);
  if (inPrompt < 0) throw new Error(`the subject "${subject}" does not occur in the prompt "${prompt}"`);
  const pieces = ids.map((id) => tokenizer.decode([id], { skipSpecialTokens: true }));
  const whole = pieces.join('');
  let at = whole.endsWith(prompt) ? whole.length - prompt.length + inPrompt : -1;
  if (whole.slice(at, at + subject.length) !== subject) at = whole.indexOf(subject);
  if (at < 0) throw new Error(`the subject "${subject}" cannot be located in the decoded tokens of "${prompt}"`);
  let start = -1;
  let end = -1;
  let loc = 0;
  for (let i = 0; i < pieces.length; i++) {
    loc += pieces[i]!.length;
    if (start < 0 && loc > at) start = i;
    if (loc >= at + subject.length) {
      end = i + 1;
      break;
    }
  }
  if (start < 0 || end <= start) throw new Error(`the subject "${subject}" covers no token of "${prompt}"`);
  return [start, end];
}

/**
 * The (unbiased) standard deviation of token embeddings: over the rows of `tokenIds` (the
 * original's estimate, over the tokens of a set of subjects) or, without ids, over the whole
 * embedding matrix. Read in blocks of rows so a half-precision 50k × 1600 table is never copied whole.
 */
export function embeddingStd(model: CausalLM, tokenIds?: readonly number[]): number {
  const w = model.param(`${model.arch.embedding}.weight`); // [V, D]
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  const add = (t: Tensor): void => {
    const c = T.contiguous(t);
    const st = c.storage;
    // float storage is read in place; half precision is decoded by toArray
    const vals: ArrayLike<number> =
      st instanceof Float32Array || st instanceof Float64Array ? st.subarray(c.offset, c.offset + c.size) : c.toArray();
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i]!;
      sum += v;
      sumSq += v * v;
    }
    n += vals.length;
  };
  T.noGrad(() =>
    T.tidy(() => {
      if (tokenIds) {
        if (tokenIds.length === 0) throw new Error('embeddingStd: no token ids');
        add(T.embedding(T.tensor([...tokenIds], [1, tokenIds.length], 'int32'), w));
      } else {
        const V = w.shape[0]!;
        for (let i = 0; i < V; i += 1024) add(T.narrow(w, 0, i, Math.min(V, i + 1024)));
      }
    }),
  );
  if (n < 2) throw new Error('embeddingStd: need at least two values');
  return Math.sqrt(Math.max(0, (sumSq - (sum * sum) / n) / (n - 1)));
}

/**
 * Fewest rows a forward runs: the native GEMM streams products of at most 8 rows (or
 * LMEDIT_GEMV_ROWS) through GEMV kernels and larger ones through BLAS, and the two round
 * differently. The LM head sees one row per copy, so a batch of 4 and one of 40 would score the
 * same corrupted copy differently in the last bits; padding every batch past the threshold keeps
 * "restoring nothing" exactly equal to the corrupted run. (native/src/gemm.cc, gemm_one.)
 */
function minRows(): number {
  const env = Number(process.env['LMEDIT_GEMV_ROWS']);
  return (Number.isSafeInteger(env) && env >= 0 ? env : 8) + 1;
}

/** Probabilities as read from a forward (float32, or float64 for float64 models). */
type Probs = Float32Array | Float64Array;

/**
 * Next-token probabilities of the last position, softmax [B, 1, V] computed by the tensor
 * library row by row (so a row's numbers do not depend on the batch around it): every column
 * (col null) as [B * V], or only column `col` as [B]. A copy, never a number[] of B × V.
 */
function lastProbs(logits: Tensor, col: number | null): Probs {
  const p = T.contiguous(T.softmax(logits)); // [B, 1, V]
  const s = p.storage;
  const V = p.shape[2]!;
  const B = p.shape[0]!;
  if (!(s instanceof Float32Array || s instanceof Float64Array)) {
    const all = Float64Array.from(p.toArray());
    return col === null ? all : Float64Array.from({ length: B }, (_, r) => all[r * V + col]!);
  }
  if (col === null) return s.slice(p.offset, p.offset + p.size);
  const out = new (s instanceof Float32Array ? Float32Array : Float64Array)(B);
  for (let r = 0; r < B; r++) out[r] = s[p.offset + r * V + col]!;
  return out;
}

export interface CorruptedRunsOptions {
  /** corrupted copies per run (default 10) */
  samples?: number;
  /** σ of the noise added to the subject's token embeddings (absolute; 0 = no corruption) */
  noiseStd: number;
  /** seed of the noise draws (default 0) */
  seed?: number;
  /** kinds whose clean states are kept for restoration (default all) */
  kinds?: readonly TraceKind[];
}

/**
 * One prompt with a corrupted subject, ready for restorations: the constructor runs the clean
 * prompt and its `samples` corrupted copies in one forward and keeps the clean outputs of every
 * module of the requested kinds; `restore()` then runs batches of corrupted copies with chosen
 * states put back. Call `dispose()` (or `using`) to free the kept states.
 * @example
 * using runs = new CorruptedRuns(model, ids, [2, 4], { noiseStd: 0.3 });
 * const [p] = runs.restore([[{ token: 3, module: 'transformer.h.1' }]], runs.cleanArgmax);
 */
export class CorruptedRuns {
  readonly samples: number;
  readonly noiseStd: number;
  /** the clean run's most likely next token */
  readonly cleanArgmax: number;
  /** module name -> clean output [Tn, D] */
  private readonly clean = new Map<string, Tensor>();
  /** last-position next-token probabilities of the clean run [V] and of the corrupted copies [S * V] */
  private readonly cleanProbs: Probs;
  private readonly corruptProbs: Probs;
  /** noise draws [S, subjectLen, D], scaled by noiseStd */
  private readonly noise: Float64Array;
  private readonly V: number;

  constructor(
    readonly model: CausalLM,
    readonly ids: readonly number[],
    readonly subjectRange: readonly [number, number],
    opts: CorruptedRunsOptions,
  ) {
    const S = opts.samples ?? 10;
    if (!Number.isSafeInteger(S) || S < 1) throw new Error(`samples must be a positive integer, got ${S}`);
    if (!(opts.noiseStd >= 0) || !Number.isFinite(opts.noiseStd))
      throw new Error(`the noise std must be a finite number >= 0, got ${opts.noiseStd}`);
    const [b, e] = subjectRange;
    if (!(Number.isInteger(b) && Number.isInteger(e) && b >= 0 && e > b && e <= ids.length))
      throw new Error(`subject range [${b}, ${e}) is not inside the ${ids.length} prompt tokens`);
    this.samples = S;
    this.noiseStd = opts.noiseStd;
    const D = model.arch.hiddenSize;
    // one standard normal per (sample, subject token, dim), drawn once: every restoration sees the
    // same corruption, so differences between cells come from the restoration alone
    const rng = new T.Rng(opts.seed ?? 0);
    this.noise = new Float64Array(S * (e - b) * D);
    for (let i = 0; i < this.noise.length; i++) this.noise[i] = opts.noiseStd * rng.nextNormal();

    const modules: string[] = [];
    for (const kind of opts.kinds ?? TRACE_KINDS)
      for (let l = 0; l < model.arch.numLayers; l++) modules.push(kindModule(model, kind, l));
    // row 0 clean, rows 1..S corrupted: the clean states and both baselines from one forward
    const probs = this.forward(1 + S, 1, S, new Map(), null, modules, (tr) => {
      for (const m of modules) this.clean.set(m, T.keep(T.clone(T.select(tr.output(m), 0, 0)))); // [Tn, D]
    });
    this.V = probs.length / (1 + S);
    this.cleanProbs = probs.slice(0, this.V);
    this.corruptProbs = probs.slice(this.V);
    let best = 0;
    for (let j = 1; j < this.V; j++) if (this.cleanProbs[j]! > this.cleanProbs[best]!) best = j;
    this.cleanArgmax = best;
  }

  /** p(answer) at the last position of the clean run. */
  cleanProb(answer: number): number {
    this.checkAnswer(answer);
    return this.cleanProbs[answer]!;
  }

  /** p(answer) of the corrupted run, averaged over the samples. */
  corruptedProb(answer: number): number {
    this.checkAnswer(answer);
    let p = 0;
    for (let s = 0; s < this.samples; s++) p += this.corruptProbs[s * this.V + answer]!;
    return p / this.samples;
  }

  /**
   * p(answer) of the corrupted run with each set's states restored to their clean values,
   * averaged over the samples: one number per set. Sets are batched, `maxRows` rows (sets ×
   * samples) per forward (at least one set); `onBatch(done)` reports sets finished.
   */
  restore(
    sets: readonly RestoreSet[],
    answer: number,
    opts: { maxRows?: number; onBatch?: (done: number) => void } = {},
  ): number[] {
    this.checkAnswer(answer);
    for (const set of sets)
      for (const st of set) {
        if (!this.clean.has(st.module)) throw new Error(`restore: no clean state kept for module "${st.module}"`);
        if (!Number.isInteger(st.token) || st.token < 0 || st.token >= this.ids.length)
          throw new Error(`restore: token ${st.token} is outside the ${this.ids.length} prompt tokens`);
      }
    const S = this.samples;
    const per = Math.max(1, Math.floor((opts.maxRows ?? 256) / S));
    const out: number[] = [];
    for (let i = 0; i < sets.length; i += per) {
      const chunk = sets.slice(i, i + per);
      // module -> (group, token) pairs restored in this batch
      const byModule = new Map<string, { group: number; token: number }[]>();
      chunk.forEach((set, group) => {
        for (const st of set) {
          const list = byModule.get(st.module) ?? [];
          list.push({ group, token: st.token });
          byModule.set(st.module, list);
        }
      });
      const probs = this.forward(chunk.length * S, 0, chunk.length * S, byModule, answer, []);
      for (let g = 0; g < chunk.length; g++) {
        // summed in the same order as corruptedProb(), so an empty set reproduces it exactly
        let p = 0;
        for (let s = 0; s < S; s++) p += probs[g * S + s]!;
        out.push(p / S);
      }
      opts.onBatch?.(out.length);
    }
    return out;
  }

  /**
   * Run B copies of the prompt, rows [first, first + nCorrupt) corrupted (sample = row offset mod
   * S), restoring `restores` (module -> groups of S rows from `first` and their tokens) and
   * retaining `retain`; returns the last position's p(answer) [B], or every probability [B * V]
   * when `answer` is null.
   */
  private forward(
    B: number,
    first: number,
    nCorrupt: number,
    restores: Map<string, { group: number; token: number }[]>,
    answer: number | null,
    retain: readonly string[],
    read?: (tr: Trace) => void,
  ): Probs {
    const Tn = this.ids.length;
    const S = this.samples;
    const [b, e] = this.subjectRange;
    const n = e - b;
    const edit: Record<string, OutputEdit> = {};
    // noise on the subject's token embeddings (before positions are added, as the original hooks wte)
    edit[this.model.arch.embedding] = (x) => {
      const D = x.shape[2]!;
      const rows = new Int32Array(nCorrupt * n);
      const vals = new Float64Array(nCorrupt * n * D);
      for (let r = 0; r < nCorrupt; r++) {
        const s = r % S;
        for (let j = 0; j < n; j++) {
          rows[r * n + j] = (first + r) * Tn + b + j;
          vals.set(this.noise.subarray((s * n + j) * D, (s * n + j + 1) * D), (r * n + j) * D);
        }
      }
      const flat = T.reshape(x, [x.shape[0]! * Tn, D]);
      return T.reshape(
        T.addRows(flat, T.tensor(rows, [rows.length], 'int32'), T.tensor(vals, [rows.length, D], x.dtype)),
        x.shape,
      );
    };
    for (const [module, cells] of restores) {
      const clean = this.clean.get(module)!;
      edit[module] = (x) => {
        const D = x.shape[2]!;
        const rows: number[] = [];
        const tokens: number[] = [];
        for (const c of cells)
          for (let s = 0; s < S; s++) {
            rows.push((first + c.group * S + s) * Tn + c.token);
            tokens.push(c.token);
          }
        const values = T.indexSelect(clean, T.tensor(tokens, [tokens.length], 'int32')); // [k, D]
        const flat = T.reshape(x, [x.shape[0]! * Tn, D]);
        return T.reshape(T.setRows(flat, T.tensor(rows, [rows.length], 'int32'), values), x.shape);
      };
    }
    const tr = new Trace({ edit, retainOutput: retain });
    try {
      return T.noGrad(() =>
        T.tidy(() => {
          // at least minRows() rows (spare rows: plain copies of the prompt, ignored), so every forward
          // takes the same matrix-product path and a row's numbers never depend on the batch size
          const rows = Math.max(B, minRows());
          const flatIds = new Int32Array(rows * Tn);
          for (let r = 0; r < rows; r++) flatIds.set(this.ids, r * Tn);
          const out = this.model.forward({ ids: T.tensor(flatIds, [rows, Tn], 'int32'), trace: tr, logits: 'last' });
          out.hidden?.dispose();
          const probs = lastProbs(T.narrow(out.logits!, 0, 0, B), answer);
          read?.(tr);
          return probs;
        }),
      );
    } finally {
      tr.dispose();
    }
  }

  private checkAnswer(answer: number): void {
    if (!Number.isInteger(answer) || answer < 0 || answer >= this.V)
      throw new Error(`answer token ${answer} is outside the vocabulary [0, ${this.V})`);
  }

  dispose(): void {
    for (const t of this.clean.values()) t.dispose();
    this.clean.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** One kind's heat map. */
export interface KindTrace {
  kind: TraceKind;
  /** layers restored per cell: 1 for 'hidden', else the window */
  window: number;
  /** the restored module's name template (`{}` = layer) */
  module: string;
  /** restored[token][layer]: p(answer) of the corrupted run with that cell restored (mean over samples) */
  restored: number[][];
  /** indirectEffect[token][layer] = restored − corruptedProb */
  indirectEffect: number[][];
}

export interface CausalTraceResult {
  prompt: string;
  subject: string;
  /** the prompt's tokens, each decoded on its own */
  tokens: string[];
  inputIds: number[];
  /** token range [start, end) of the subject */
  subjectRange: [number, number];
  /** the answer scored: the clean argmax, or the first token of --answer */
  answer: { id: number; text: string; given: boolean };
  numLayers: number;
  samples: number;
  seed: number;
  noise: {
    /** σ of the added noise = multiplier × embeddingStd (or the given std) */
    std: number;
    multiplier: number;
    /** std of the token embeddings the multiplier scales; null when an absolute std was given */
    embeddingStd: number | null;
    /** what embeddingStd was estimated over */
    estimatedOver: 'embedding-matrix' | 'subjects' | 'given';
  };
  /** p(answer) of the clean run */
  cleanProb: number;
  /** p(answer) of the corrupted run, mean over samples */
  corruptedProb: number;
  traces: KindTrace[];
}

export interface CausalTraceOptions {
  /** kinds to trace, in this order (default hidden, mlp, attn) */
  kinds?: readonly TraceKind[];
  /** corrupted copies per run (default 10) */
  samples?: number;
  /** noise σ as a multiple of the embeddings' std (default 3, as the original's "s3") */
  noise?: number;
  /** an absolute noise σ instead (multiplier and estimate unused) */
  noiseStd?: number;
  /** estimate the embeddings' std over these subjects' tokens (the original's way) instead of the whole matrix */
  noiseSubjects?: readonly string[];
  /** seed of the noise draws (default 0) */
  seed?: number;
  /** layers restored per MLP / attention cell (default 10) */
  window?: number;
  /** the answer text (its first token is scored; a leading space is added when missing); default: the clean run's argmax */
  answer?: string;
  /** rows (restorations × samples) per forward (default 256) */
  maxRows?: number;
  /** restorations finished so far, of `total` */
  onProgress?: (done: number, total: number) => void;
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
}

/**
 * Causal tracing of one prompt: clean and corrupted p(answer) and, for each kind, the restored
 * p(answer) of every (token, layer) cell.
 * @example
 * const r = causalTrace(model, tokenizer, 'The Eiffel Tower is in', 'The Eiffel Tower', { kinds: ['hidden'] });
 * r.traces[0].indirectEffect[3][17]; // token 3, layer 17
 */
export function causalTrace(
  model: CausalLM,
  tokenizer: Tokenizer,
  prompt: string,
  subject: string,
  opts: CausalTraceOptions = {},
): CausalTraceResult {
  const kinds = [...new Set(opts.kinds ?? TRACE_KINDS)];
  if (kinds.length === 0) throw new Error('no kind to trace');
  for (const k of kinds)
    if (!TRACE_KINDS.includes(k)) throw new Error(`kind must be one of ${TRACE_KINDS.join(', ')}, got "${k}"`);
  const samples = opts.samples ?? 10;
  const window = opts.window ?? 10;
  const seed = opts.seed ?? 0;
  const multiplier = opts.noise ?? 3;
  checkInt('samples', samples, 1);
  checkInt('window', window, 1);
  checkInt('seed', seed, 0);
  checkInt('maxRows', opts.maxRows ?? 256, 1);
  if (!Number.isFinite(multiplier) || multiplier < 0) throw new Error(`noise must be a number >= 0, got ${multiplier}`);
  if (opts.noiseStd !== undefined && !(Number.isFinite(opts.noiseStd) && opts.noiseStd >= 0))
    throw new Error(`noiseStd must be a number >= 0, got ${opts.noiseStd}`);
  if (prompt.trim() === '') throw new Error('the prompt is empty');

  // the editing encoding (src/edit): the token sequence ROME/MEMIT would edit at
  const ids = tokenizer.encode(prompt, promptEncoding(tokenizer));
  if (ids.length === 0) throw new Error(`prompt "${prompt}" encodes to no tokens`);
  if (ids.length > model.config.maxPositions)
    throw new Error(`the prompt's ${ids.length} tokens exceed the model's context of ${model.config.maxPositions}`);
  const subjectRange = subjectTokenRange(tokenizer, ids, prompt, subject);

  let embStd: number | null = null;
  let estimatedOver: CausalTraceResult['noise']['estimatedOver'] = 'given';
  if (opts.noiseStd === undefined) {
    if (opts.noiseSubjects && opts.noiseSubjects.length > 0) {
      const toks = opts.noiseSubjects.flatMap((s) => tokenizer.encode(s, { addSpecialTokens: false, addBos: false }));
      embStd = embeddingStd(model, toks);
      estimatedOver = 'subjects';
    } else {
      embStd = embeddingStd(model);
      estimatedOver = 'embedding-matrix';
    }
  }
  const std = opts.noiseStd ?? multiplier * embStd!;

  let answerId: number | null = null;
  if (opts.answer !== undefined) {
    // a continuation of the prompt: a leading space when missing, as edit targets get
    const a = encodeTarget(tokenizer, spacedTarget(opts.answer));
    answerId = a[0]!;
    if (answerId >= model.config.vocabSize)
      throw new Error(`the answer's token ${answerId} is outside the model's vocabulary of ${model.config.vocabSize}`);
  }

  using runs = new CorruptedRuns(model, ids, subjectRange, { samples, noiseStd: std, seed, kinds });
  const answer = answerId ?? runs.cleanArgmax;
  const cleanProb = runs.cleanProb(answer);
  const corruptedProb = runs.corruptedProb(answer);
  const L = model.arch.numLayers;
  const Tn = ids.length;
  // every cell of every kind in one list, so batches fill up across kinds
  const sets: RestoredState[][] = [];
  for (const kind of kinds)
    for (let t = 0; t < Tn; t++) for (let l = 0; l < L; l++) sets.push(cellStates(model, kind, t, l, window));
  opts.onProgress?.(0, sets.length);
  const probs = runs.restore(sets, answer, {
    ...(opts.maxRows !== undefined ? { maxRows: opts.maxRows } : {}),
    onBatch: (done) => opts.onProgress?.(done, sets.length),
  });
  const traces = kinds.map((kind, k): KindTrace => {
    const restored: number[][] = [];
    for (let t = 0; t < Tn; t++) restored.push(probs.slice((k * Tn + t) * L, (k * Tn + t + 1) * L));
    return {
      kind,
      window: kind === 'hidden' ? 1 : window,
      module: kindTemplate(model, kind),
      restored,
      indirectEffect: restored.map((row) => row.map((p) => p - corruptedProb)),
    };
  });
  return {
    prompt,
    subject,
    tokens: ids.map((id) => tokenizer.decode([id])),
    inputIds: [...ids],
    subjectRange,
    answer: { id: answer, text: tokenizer.decode([answer]), given: opts.answer !== undefined },
    numLayers: L,
    samples,
    seed,
    noise: { std, multiplier, embeddingStd: embStd, estimatedOver },
    cleanProb,
    corruptedProb,
    traces,
  };
}
