/**
 * The pretraining loop: a causal LM (GPT-2 or LLaMA, from a config.json object) trained on
 * token-id documents with next-token cross-entropy, AdamW, warm-up + cosine learning rate,
 * global gradient-norm clipping, periodic atomic checkpoints with bit-exact resume, progress
 * and evaluation callbacks with early stopping, and the result saved as a Hugging Face
 * directory.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as T from '../tensor/index.js';
import { normalizeConfig, type ModelConfig } from '../models/config.js';
import { COPIED_FILES, saveModel } from '../models/save.js';
import type { CausalLM } from '../models/types.js';
import { BatchPlan, IGNORE_INDEX, type Packing } from './data.js';
import { AdamW, clipCoefficient, defaultDecay, float32View, globalNorm, lrAt, type LrSchedule } from './optim.js';
import { initModel } from './init.js';
import {
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  readCheckpointState,
  removeStaleTemporaries,
  saveCheckpoint,
  type CheckpointState,
  type EvalRecord,
} from './checkpoint.js';

export interface TrainProgress {
  /** optimizer steps completed */
  step: number;
  /** total steps planned */
  steps: number;
  epoch: number;
  /** loss of the latest step */
  loss: number;
  /** mean loss since the previous report */
  lossAvg: number;
  /** learning rate of the latest step */
  lr: number;
  /** global gradient norm before clipping, latest step */
  gradNorm: number;
  /** loss-bearing (non-pad) tokens per second of training in this process */
  tokensPerSecond: number;
  /** seconds left at the current speed (training steps only) */
  eta: number;
  /** seconds since this call started */
  elapsed: number;
}

export interface EarlyStopOptions {
  /** 'max' (default): higher metric is better (accuracy); 'min': lower is better (loss) */
  mode?: 'max' | 'min';
  /** stop once the metric reaches this value (>= for max, <= for min) */
  target?: number;
  /** stop after this many evaluations without an improvement of more than minDelta */
  patience?: number;
  /** default 0 */
  minDelta?: number;
}

export type StopReason = 'completed' | 'target' | 'plateau' | 'aborted' | 'time';

export interface TrainOptions {
  /** config.json object of the model (see smallModelConfig); saved with the model */
  config: Record<string, unknown>;
  /** token-id documents (without BOS/EOS: the batcher frames each one) */
  documents: readonly (readonly number[])[];
  /**
   * Per document, the index of its first token that carries loss (0: all, the default); earlier
   * tokens are context only, e.g. a task prompt before its answer. See BatchingOptions.lossStart.
   */
  lossStart?: readonly number[];
  /** train this model instead of a fresh one (its config must be `config`); the caller keeps ownership */
  model?: CausalLM;
  /** optimizer steps; or give `epochs` */
  steps?: number;
  /** passes over the documents (steps = epochs × batches per epoch) */
  epochs?: number;
  /** rows per batch; default 32 */
  batchSize?: number;
  /** positions per row at most; default min(max positions, 128) */
  seqLen?: number;
  /** round batch widths up to a multiple of this (buffer reuse); default 8 */
  padMultiple?: number;
  /** default 'auto': 'pad' (one document per row, length-grouped batches) when every document fits a row, else 'pack' */
  packing?: Packing;
  /** default: the config's bos_token_id (null: no BOS) */
  bosId?: number | null;
  /** default: the config's eos_token_id (null: no EOS) */
  eosId?: number | null;
  /** input id of padded positions; default pad_token_id, else eos, else 0 */
  padId?: number;
  /** seeds the initialisation and the data order; default 0 */
  seed?: number;
  /** init std of a fresh model; default 0.02 */
  initStd?: number;
  /** peak learning rate; default 1e-3 */
  lr?: number;
  /** floor of the cosine; default lr / 10 */
  minLr?: number;
  /** default min(100, 5% of steps) */
  warmupSteps?: number;
  /** AdamW betas; default [0.9, 0.95] */
  betas?: [number, number];
  /** default 1e-8 */
  eps?: number;
  /** decoupled weight decay; default 0.1 (on block matrices only: see defaultDecay) */
  weightDecay?: number;
  /** which parameters decay (default defaultDecay) */
  decay?: (name: string, param: T.Tensor) => boolean;
  /** global gradient-norm clip; default 1 (Infinity: off) */
  maxGradNorm?: number;
  /** where checkpoints go; a run resumes from the newest one there */
  checkpointDir?: string;
  /** save a checkpoint every N steps (and when the run stops); default 200 */
  checkpointEvery?: number;
  /** checkpoints kept; default 2 */
  keepCheckpoints?: number;
  /** resume from checkpointDir when it holds a checkpoint; default true (false: delete its checkpoints and start over) */
  resume?: boolean;
  /** called every `progressEvery` steps (default 10) and at the last step */
  onProgress?: (p: TrainProgress) => void;
  progressEvery?: number;
  /** a metric of the model (e.g. recall accuracy), run with gradients off every `evalEvery` steps and at the end */
  evaluate?: (model: CausalLM, step: number) => number | Promise<number>;
  /** default 100 */
  evalEvery?: number;
  earlyStop?: EarlyStopOptions;
  /** stop (after checkpointing; outDir is not written) when aborted; checked after every step */
  signal?: AbortSignal;
  /** stop (after checkpointing) after this many seconds of this call */
  timeLimitSeconds?: number;
  /** save the trained model here as a Hugging Face directory (replaced if present), unless the run was aborted */
  outDir?: string;
  /** extra files for outDir (e.g. `{ 'tokenizer.json': json }`) */
  outFiles?: Record<string, string | Uint8Array>;
}

export interface TrainResult {
  /** the trained model (the caller disposes it) */
  model: CausalLM;
  /** steps completed in total (resumed ones included) */
  step: number;
  steps: number;
  stopReason: StopReason;
  /** latest step's loss (null when no step ran) */
  finalLoss: number | null;
  evals: EvalRecord[];
  /** best evaluation metric, or null without evaluations */
  best: number | null;
  /** the step the run resumed from, or null */
  resumedFrom: number | null;
  /** mean loss per progress interval over the whole run (resumed part included) */
  history: { step: number; loss: number; lr: number }[];
  /** loss-bearing tokens trained on in total */
  tokensSeen: number;
  /** this call's training speed (tokens per second of step time) */
  tokensPerSecond: number;
  seconds: number;
  packing: 'pad' | 'pack';
  batchesPerEpoch: number;
  outDir: string | null;
  lastCheckpoint: string | null;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`train: ${name} must be a positive integer, got ${v}`);
  return v;
}

function checkId(name: string, id: number | null, cfg: ModelConfig): number | null {
  if (id !== null && (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize))
    throw new Error(`train: ${name} ${id} is outside the vocabulary [0, ${cfg.vocabSize})`);
  return id;
}

/** FNV-1a over the documents (and their loss starts, when given), so a resume refuses a different corpus. */
function documentsHash(docs: readonly (readonly number[])[], lossStart?: readonly number[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h = Math.imul(h ^ (x & 0xffff), 0x01000193) >>> 0;
    h = Math.imul(h ^ (x >>> 16), 0x01000193) >>> 0;
  };
  for (const d of docs) {
    mix(d.length);
    for (const t of d) mix(t);
  }
  if (lossStart === undefined || lossStart.every((s) => s === 0)) return `${docs.length}:${h.toString(16)}`;
  for (const s of lossStart) mix(s);
  return `${docs.length}:${h.toString(16)}:loss-start`;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The parameter's gradient as a float32 array (a view when already contiguous float32). */
function gradArray(g: T.Tensor, name: string): Float32Array {
  const c = g.dtype === 'float32' && g.isContiguous() ? g : T.contiguous(T.cast(g, 'float32'));
  return float32View(c, `gradient of ${name}`);
}

/**
 * Train a causal LM. Resumes from the newest checkpoint in `checkpointDir` when there is one;
 * a resumed run computes exactly (bitwise) what an uninterrupted one would.
 * @example
 * const config = smallModelConfig({ arch: 'gpt2', vocabSize: 800, hiddenSize: 128, numLayers: 2, numHeads: 4, maxPositions: 64, bosTokenId: 1, eosTokenId: 2 });
 * const { model } = await train({ config, documents, epochs: 50, checkpointDir: 'ckpt', outDir: 'world-model' });
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const cfg = normalizeConfig(opts.config, 'train config');
  const seed = opts.seed ?? 0;
  const batchSize = positiveInt('batchSize', opts.batchSize ?? 32);
  const seqLen = positiveInt('seqLen', opts.seqLen ?? Math.min(cfg.maxPositions, 128));
  if (seqLen > cfg.maxPositions) throw new Error(`train: seqLen ${seqLen} exceeds the model's ${cfg.maxPositions} positions`);
  const bosId = checkId('bosId', opts.bosId !== undefined ? opts.bosId : cfg.bosTokenId, cfg);
  const eosId = checkId('eosId', opts.eosId !== undefined ? opts.eosId : cfg.eosTokenId, cfg);
  const padId = checkId('padId', opts.padId ?? cfg.padTokenId ?? eosId ?? 0, cfg)!;
  for (const [i, d] of opts.documents.entries()) {
    for (const t of d)
      if (!(t >= 0 && t < cfg.vocabSize)) throw new Error(`train: document ${i} has token id ${t} outside [0, ${cfg.vocabSize})`);
  }
  const padMultiple = positiveInt('padMultiple', opts.padMultiple ?? 8);
  const data = new BatchPlan(opts.documents, {
    batchSize,
    seqLen,
    packing: opts.packing ?? 'auto',
    bosId,
    eosId,
    padId,
    seed,
    padMultiple,
    ...(opts.lossStart ? { lossStart: opts.lossStart } : {}),
  });
  if (opts.steps === undefined && opts.epochs === undefined) throw new Error('train: give steps or epochs');
  const steps = positiveInt('steps', opts.steps ?? Math.ceil(opts.epochs! * data.batchesPerEpoch));
  const lr = opts.lr ?? 1e-3;
  const schedule: LrSchedule = {
    lr,
    minLr: opts.minLr ?? lr / 10,
    warmupSteps: opts.warmupSteps ?? Math.min(100, Math.floor(steps * 0.05)),
    totalSteps: steps,
  };
  const maxGradNorm = opts.maxGradNorm ?? 1;
  const initStd = opts.initStd ?? 0.02;
  const checkpointEvery = positiveInt('checkpointEvery', opts.checkpointEvery ?? 200);
  const progressEvery = positiveInt('progressEvery', opts.progressEvery ?? 10);
  const evalEvery = positiveInt('evalEvery', opts.evalEvery ?? 100);
  const early = opts.earlyStop ?? {};
  const mode = early.mode ?? 'max';
  const minDelta = early.minDelta ?? 0;

  if (opts.model && !sameJson(opts.model.config, cfg)) throw new Error('train: opts.model was not built from opts.config');
  const model = opts.model ?? initModel(opts.config, { seed, std: initStd });
  const ownsModel = !opts.model;
  try {
    const opt = new AdamW(model.params, {
      betas: opts.betas,
      eps: opts.eps,
      weightDecay: opts.weightDecay,
      decay: opts.decay ?? defaultDecay,
    });
    const paramList = opt.slots.map((s) => s.param);
    // everything that determines the parameters' trajectory: a resume must agree on all of it
    // (evaluation and early-stop settings may change: they only decide where to stop)
    const plan: Record<string, unknown> = {
      documents: documentsHash(opts.documents, opts.lossStart),
      seed,
      steps,
      batchSize,
      seqLen,
      packing: data.packing,
      padMultiple,
      bosId,
      eosId,
      padId,
      schedule,
      betas: [opt.beta1, opt.beta2],
      eps: opt.eps,
      weightDecay: opt.weightDecay,
      decayed: opt.slots.filter((s) => s.decay).map((s) => s.name),
      maxGradNorm: Number.isFinite(maxGradNorm) ? maxGradNorm : 'off',
      init: opts.model ? 'given model' : { std: initStd },
    };

    let state: CheckpointState = {
      format: 1,
      step: 0,
      optimizerStep: 0,
      data: data.position(0),
      plan,
      config: opts.config,
      evals: [],
      best: null,
      badEvals: 0,
      history: [],
      tokensSeen: 0,
      finished: null,
      lastLoss: null,
      pending: { loss: 0, steps: 0 },
    };
    let resumedFrom: number | null = null;
    const dir = opts.checkpointDir;
    if (dir) removeStaleTemporaries(dir);
    // starting over: older checkpoints would otherwise be taken for this run's newest
    if (dir && opts.resume === false) for (const c of listCheckpoints(dir)) rmSync(c.path, { force: true });
    if (dir && opts.resume !== false) {
      const latest = latestCheckpoint(dir);
      if (latest) {
        // check the plan before touching the parameters (a given model must stay as it was)
        const saved = readCheckpointState(latest.path);
        const differs = Object.keys({ ...plan, ...saved.plan }).filter((k) => !sameJson(plan[k], saved.plan[k]));
        if (!sameJson(saved.config, opts.config)) differs.unshift('config');
        if (differs.length)
          throw new Error(
            `train: ${latest.path} was written by a run with different ${differs.join(', ')}; ` +
              'use another checkpointDir (or resume: false) to start over',
          );
        state = loadCheckpoint(latest.path, model.params, opt);
        resumedFrom = state.step;
      }
    }

    let lastCheckpoint: string | null = null;
    const checkpoint = (): void => {
      if (!dir) return;
      state.optimizerStep = opt.t;
      state.data = data.position(state.step);
      lastCheckpoint = saveCheckpoint(dir, model.params, opt, state, opts.keepCheckpoints ?? 2);
    };

    const improved = (m: number): boolean =>
      state.best === null || (mode === 'max' ? m > state.best + minDelta : m < state.best - minDelta);
    const reached = (m: number): boolean =>
      early.target !== undefined && (mode === 'max' ? m >= early.target : m <= early.target);
    const runEval = async (): Promise<'target' | 'plateau' | null> => {
      if (!opts.evaluate) return null;
      const evaluate = opts.evaluate;
      const metric = await T.tidy(() => T.noGrad(() => evaluate(model, state.step)));
      if (typeof metric !== 'number' || Number.isNaN(metric))
        throw new Error(`train: evaluate returned ${String(metric)} at step ${state.step}`);
      state.evals.push({ step: state.step, metric });
      if (improved(metric)) {
        state.best = metric;
        state.badEvals = 0;
      } else {
        state.badEvals += 1;
      }
      if (reached(metric)) return 'target';
      if (early.patience !== undefined && state.badEvals >= early.patience) return 'plateau';
      return null;
    };

    let stopReason: StopReason = state.finished ?? 'completed';
    let trainMs = 0;
    let tokensThisRun = 0;
    let stepsThisRun = 0;
    while (state.finished === null && state.step < steps) {
      const s = state.step;
      const stepLr = lrAt(s, schedule);
      const ts = performance.now();
      const r = T.tidy(() => {
        const b = data.batchAt(s);
        const ids = T.tensor(b.ids, [b.rows, b.cols], 'int32');
        const targets = T.tensor(b.targets, [b.rows, b.cols], 'int32');
        const { value, grads } = T.valueAndGrad(() => {
          const out = model.forward({ ids });
          return T.crossEntropy(out.logits!, targets, { ignoreIndex: IGNORE_INDEX });
        }, paramList);
        const loss = value.item();
        const arrays = grads.map((g, i) => gradArray(g, opt.slots[i]!.name));
        const norm = globalNorm(arrays);
        if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
          throw new Error(
            `train: non-finite loss ${loss} / gradient norm ${norm} at step ${s} (lr ${stepLr}); lower lr or check the data`,
          );
        }
        opt.step(arrays, stepLr, clipCoefficient(norm, maxGradNorm));
        return { loss, norm, tokens: b.tokens };
      });
      trainMs += performance.now() - ts;
      stepsThisRun += 1;
      tokensThisRun += r.tokens;
      state.step = s + 1;
      state.tokensSeen += r.tokens;
      state.lastLoss = r.loss;
      state.pending.loss += r.loss;
      state.pending.steps += 1;

      if (state.step % progressEvery === 0 || state.step === steps) {
        const lossAvg = state.pending.loss / state.pending.steps;
        state.history.push({ step: state.step, loss: lossAvg, lr: stepLr });
        state.pending = { loss: 0, steps: 0 };
        opts.onProgress?.({
          step: state.step,
          steps,
          epoch: data.position(s).epoch,
          loss: r.loss,
          lossAvg,
          lr: stepLr,
          gradNorm: r.norm,
          tokensPerSecond: tokensThisRun / (trainMs / 1000),
          eta: ((steps - state.step) * trainMs) / stepsThisRun / 1000,
          elapsed: (performance.now() - t0) / 1000,
        });
      }

      let stop: StopReason | null = null;
      if (state.step % evalEvery === 0 || state.step === steps) stop = await runEval();
      if (stop === null && state.step === steps) stop = 'completed';
      if (stop !== null) state.finished = stop;
      else if (opts.signal?.aborted) stop = 'aborted';
      else if (opts.timeLimitSeconds !== undefined && (performance.now() - t0) / 1000 >= opts.timeLimitSeconds) stop = 'time';
      if (stop !== null || state.step % checkpointEvery === 0) checkpoint();
      if (stop !== null) {
        stopReason = stop;
        break;
      }
      // let timers and signal handlers run (Ctrl-C in the CLI)
      await new Promise<void>((res) => setImmediate(res));
    }
    // a resumed run that had already finished: keep the final checkpoint as it is
    if (state.finished !== null) stopReason = state.finished;

    let outDir: string | null = null;
    // an aborted run is meant to be resumed: its model is not the result yet
    if (opts.outDir && stopReason !== 'aborted') {
      outDir = resolve(opts.outDir);
      saveTrainedModel(model, outDir, opts.config, opts.outFiles ?? {}, {
        'lmedit.train.steps': String(state.step),
        'lmedit.train.final_loss': String(state.lastLoss),
      });
    }
    return {
      model,
      step: state.step,
      steps,
      stopReason,
      finalLoss: state.lastLoss,
      evals: state.evals,
      best: state.best,
      resumedFrom,
      history: state.history,
      tokensSeen: state.tokensSeen,
      tokensPerSecond: trainMs > 0 ? tokensThisRun / (trainMs / 1000) : 0,
      seconds: (performance.now() - t0) / 1000,
      packing: data.packing,
      batchesPerEpoch: data.batchesPerEpoch,
      outDir,
      lastCheckpoint,
    };
  } catch (e) {
    if (ownsModel) model.dispose();
    throw e;
  }
}

/**
 * Save a trained model as a Hugging Face directory (config.json + model.safetensors + `files`,
 * e.g. tokenizer.json), replacing `outDir` atomically through saveModel.
 */
export function saveTrainedModel(
  model: CausalLM,
  outDir: string,
  config: Record<string, unknown>,
  files: Record<string, string | Uint8Array> = {},
  metadata: Record<string, string> = {},
): void {
  const target = resolve(outDir);
  mkdirSync(dirname(target), { recursive: true });
  const staging = mkdtempSync(join(dirname(target), `.${basename(target)}.src-`));
  try {
    writeFileSync(join(staging, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    for (const [name, content] of Object.entries(files)) {
      if (name.includes('/') || name.includes('\\') || name.startsWith('.'))
        throw new Error(`saveTrainedModel: bad file name "${name}"`);
      if (name === 'config.json' || name === 'model.safetensors')
        throw new Error(`saveTrainedModel: "${name}" is written by the trainer`);
      writeFileSync(join(staging, name), content);
    }
    saveModel(model, target, { sourceDir: staging, overwrite: true, metadata });
    // saveModel copies the usual HF files; anything else goes in afterwards
    for (const [name, content] of Object.entries(files))
      if (!COPIED_FILES.includes(name)) writeFileSync(join(target, name), content);
  } finally {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}
