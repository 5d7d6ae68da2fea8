/**
 * One request type and one result type for every editing method (the EasyEdit request shape,
 * so ZsRE / CounterFact records map directly), and the contract a method folder implements.
 */
import type { Tensor } from '../tensor/index.js';
import type { CausalLM } from '../models/types.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { DeltaTransform } from './apply.js';

/** A prompt and its expected answer (locality / portability probes). */
export interface PromptAnswer {
  prompt: string;
  ground_truth: string;
}

/**
 * One fact to write into the model.
 * `prompt` contains `subject` verbatim (methods that need the subject check it), e.g.
 * `{ prompt: 'The Eiffel Tower is located in the city of', subject: 'The Eiffel Tower', target_new: 'Rome' }`.
 */
export interface EditRequest {
  prompt: string;
  subject: string;
  target_new: string;
  ground_truth?: string;
  rephrase_prompts?: string[];
  locality?: PromptAnswer[];
  portability?: PromptAnswer[];
  /** caller's id for the record (e.g. the ZsRE index or CounterFact case_id) */
  case_id?: string | number;
}

/** Per-request diagnostics an edit reports. */
export interface RequestDiagnostics {
  case_id?: string | number;
  /** loss per optimisation step (the v* or z optimisation, fine-tuning) */
  losses: number[];
  /** named scalars (norms, target NLL before/after, ...) */
  scalars: Record<string, number>;
}

/** Timings in seconds by phase (e.g. keys, v_optimisation, update), plus the total. */
export type Timings = Record<string, number> & { total: number };

/**
 * What every method returns. `deltas` hold ΔW per parameter in the parameter's stored
 * layout under its HF name (after RECT when enabled). When `applied`, the model holds
 * W + ΔW and `restore()` writes the original bytes back (bit-exact).
 */
export interface EditResult extends Disposable {
  method: string;
  deltas: Map<string, Tensor>;
  requests: RequestDiagnostics[];
  timings: Timings;
  applied: boolean;
  restore(): void;
  /** free the delta tensors and saved weights */
  dispose(): void;
}

/** Run environment (not hyperparameters): seeds, statistics, progress. */
export interface EditContext {
  tokenizer: Tokenizer;
  /** seed of sampled context templates and random baselines (default 0) */
  seed?: number;
  /** fixed context templates instead of sampled ones (ROME: flat list; MEMIT: groups) */
  contextTemplates?: string[] | string[][];
  /** second-moment statistics provider for methods that need C (ROME with mom2, MEMIT) */
  stats?: StatsProvider;
  /** apply the deltas to the model (default true); false computes them and restores the weights */
  apply?: boolean;
  /** transform each ΔW before it is added (RECT and its baselines); see apply.ts */
  transformDelta?: DeltaTransform;
  /** progress messages */
  log?: (msg: string) => void;
  /**
   * The sequential run these edits belong to: state a method carries from one edit to the next
   * (AlphaEdit's keys of earlier edits). Absent: every edit starts from the unedited state.
   */
  session?: EditSession;
}

/**
 * State kept across the edits of one sequential run, by key, owned here (disposed with the
 * session). A run that restores the model to W₀ starts a new session (or calls `reset`).
 * @example using session = new EditSession(); runEdits(model, m, reqs, hp, { ...ctx, session }, { sequential: true });
 */
export class EditSession implements Disposable {
  private readonly state = new Map<string, Disposable>();

  get<T extends Disposable>(key: string): T | undefined {
    return this.state.get(key) as T | undefined;
  }

  /** Store `value` under `key`, disposing what was there. */
  set(key: string, value: Disposable): void {
    const old = this.state.get(key);
    if (old !== value) old?.[Symbol.dispose]();
    this.state.set(key, value);
  }

  /** Forget everything (the weights are back at W₀). */
  reset(): void {
    for (const v of this.state.values()) v[Symbol.dispose]();
    this.state.clear();
  }

  [Symbol.dispose](): void {
    this.reset();
  }
}

/** Gives C = E[k kᵀ] (float32 or float64 [d_k, d_k]) for an edited module at a layer. */
export interface StatsProvider {
  secondMoment(model: CausalLM, layer: number, moduleName: string): Tensor;
  /**
   * Compute (or load) the statistics of several layers at once, on the model as it is now.
   * MEMIT calls this before its layer loop: C must come from the unedited model.
   */
  prefetch?(model: CausalLM, targets: { layer: number; moduleName: string }[]): void;
}

/** The contract a method folder exports. */
export interface EditMethod<H> {
  readonly name: string;
  /** true when several requests can go into one edit */
  readonly batchable: boolean;
  /** parse and validate hyperparameters (YAML/JSON object); `source` names the origin in errors */
  parseHParams(raw: unknown, source: string): H;
  /** shipped presets by model key (e.g. 'gpt2-xl', 'llama-2-7b', 'tiny') */
  presets: Record<string, H>;
  apply(model: CausalLM, requests: EditRequest[], hparams: H, ctx: EditContext): EditResult;
}
