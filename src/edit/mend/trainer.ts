/**
 * Meta-training of the MEND editor (README.md, "The method", Training; EasyEdit's EditTrainer):
 * edit on prompt + target, score the post-edit model on the rephrase (L_edit) and against the
 * unedited model on a locality input (L_loc), accumulate ∂(cedit·L_edit + cloc·L_loc) w.r.t.
 * the network and edit_lrs, clip and step Adam every accumulate_bs iterations; validate every
 * val_interval iterations with early stopping on early_stop_key; checkpoint and resume.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { recordsToRequests } from '../request.js';
import {
  EDITOR_JSON,
  hasTrainingState,
  loadTrainingState,
  modelIdentity,
  readEditorDir,
  saveEditor,
  saveTrainingState,
  writeEditYaml,
  type TrainingStateJson,
  type TrainingSummary,
} from './checkpoint.js';
import { captureFor, metaLoss, type MetaBatch } from './edit-step.js';
import { MendEditor } from './editor.js';
import { validateMendHParams, type MendHParams } from './hparams.js';
import { editBatch, forwardBatch, promptTargetBatch, tokenAccuracy } from './inputs.js';
import { GradAccumulator, NamedAdam, optimizerTensors, restoreOptimizer } from './optimizer.js';
import { ProgressLine } from '../../util/progress.js';

/** One training example: the edit, its rephrase and an unrelated locality question. */
export interface MendTrainRecord {
  prompt: string;
  target: string;
  rephrase: string;
  loc: string;
  locAnswer: string;
}

/**
 * Training records from a ZsRE file (src, alt, rephrase, loc, loc_ans), CounterFact or
 * EasyEdit flat records. Records with an empty target are skipped (as EasyEdit's ZsRE loader);
 * a record without a rephrase or a locality prompt is an error.
 * @example const { records } = mendTrainRecords(JSON.parse(readFileSync(f, 'utf8')), f);
 */
export function mendTrainRecords(raw: unknown, file: string): { records: MendTrainRecord[]; skipped: number } {
  const requests = recordsToRequests(raw, file);
  const records: MendTrainRecord[] = [];
  let skipped = 0;
  requests.forEach((r, i) => {
    if (r.target_new.trim() === '' || r.prompt.trim() === '') {
      skipped++;
      return;
    }
    const rephrase = r.rephrase_prompts?.[0];
    const loc = r.locality?.[0];
    if (!rephrase) throw new Error(`${file} record ${i}: no rephrase (MEND training scores the edit on it)`);
    if (!loc) throw new Error(`${file} record ${i}: no locality prompt (loc / loc_ans)`);
    records.push({ prompt: r.prompt, target: r.target_new, rephrase, loc: loc.prompt, locAnswer: loc.ground_truth });
  });
  return { records, skipped };
}

/** What the progress callback receives after each iteration. */
export interface TrainProgress {
  iteration: number;
  maxIters: number;
  /** running means since the last log line */
  stats: Record<string, number>;
}

export interface TrainMendOptions {
  model: CausalLM;
  tokenizer: Tokenizer;
  hparams: MendHParams;
  train: MendTrainRecord[];
  /** validation records (early stopping and the choice of the saved editor); none = keep the latest */
  val?: MendTrainRecord[];
  /** checkpoint folder (editor.*, training-state*, mend.yaml); none = in memory only */
  outDir?: string;
  /** continue the run saved in outDir */
  resume?: boolean;
  /** overrides hparams.max_iters (also when resuming) */
  maxIters?: number;
  /** recorded in the checkpoint as the model's source */
  modelSource?: string;
  /** true: a bar on a TTY (a line every 10 s otherwise); a function: called instead */
  progress?: boolean | ((p: TrainProgress) => void);
  log?: (msg: string) => void;
  /** called after every iteration (tests use it to simulate a crash) */
  onIteration?: (iteration: number) => void;
}

export interface TrainMendResult {
  /** the editor to use: best on validation, or the latest without validation (caller disposes) */
  editor: MendEditor;
  summary: TrainingSummary;
  /** validation statistics by iteration */
  validations: { iteration: number; stats: Record<string, number> }[];
  /** averaged training statistics per log interval */
  trainLog: { iteration: number; stats: Record<string, number> }[];
}

/** Per-iteration statistics under EasyEdit's names (loss/edit, loss/loc, loss/total_edit, edit/acc, acc/pre, acc/post). */
type Stats = Record<string, number>;

class Averager {
  private sums = new Map<string, number>();
  private n = 0;
  add(s: Stats): void {
    for (const [k, v] of Object.entries(s)) this.sums.set(k, (this.sums.get(k) ?? 0) + v);
    this.n++;
  }
  average(suffix = ''): Stats {
    return Object.fromEntries([...this.sums].map(([k, v]) => [`${k}${suffix}`, v / Math.max(this.n, 1)]));
  }
  get count(): number {
    return this.n;
  }
  reset(): void {
    this.sums.clear();
    this.n = 0;
  }
}

/** Training order: a seeded permutation per epoch, so iteration i always sees the same records (resume needs no RNG state). */
class DataOrder {
  private perms = new Map<number, Int32Array>();
  constructor(
    private readonly n: number,
    private readonly seed: number,
  ) {}
  indices(iteration: number, batchSize: number): number[] {
    return Array.from({ length: batchSize }, (_, j) => {
      const s = iteration * batchSize + j;
      const epoch = Math.floor(s / this.n);
      return this.perm(epoch)[s % this.n]!;
    });
  }
  private perm(epoch: number): Int32Array {
    let p = this.perms.get(epoch);
    if (!p) {
      const rng = new T.Rng((this.seed * 1_000_003 + epoch * 7919) >>> 0);
      p = Int32Array.from({ length: this.n }, (_, i) => i);
      for (let i = this.n - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        [p[i], p[j]] = [p[j]!, p[i]!];
      }
      this.perms.clear(); // only the current epoch is needed
      this.perms.set(epoch, p);
    }
    return p;
  }
}

function dataHash(records: readonly MendTrainRecord[]): string {
  const h = createHash('sha256');
  for (const r of records) h.update(`${r.prompt}\u0000${r.target}\u0000${r.rephrase}\u0000${r.loc}\u0000${r.locAnswer}\n`);
  return h.digest('hex').slice(0, 16);
}

/** Whether a larger value of this statistic is better (accuracies); losses are lower-better. */
function higherIsBetter(key: string): boolean {
  return /acc/.test(key);
}

/**
 * One edit and its post-edit losses on `records`. Training: the editor's statistics take the
 * captured rows, and ∂L/∂θ is accumulated; otherwise everything runs without gradients.
 */
function editStep(
  model: CausalLM,
  tok: Tokenizer,
  editor: MendEditor,
  hp: MendHParams,
  records: readonly MendTrainRecord[],
  training: { acc: GradAccumulator; params: [string, Tensor][] } | null,
): Stats {
  return T.tidy(() => {
    const batch: MetaBatch = {
      edit: editBatch(
        tok,
        records.map((r) => ({ prompt: r.prompt, target: r.target })),
        hp.legacy_mend_labels,
      ),
      rephrase: editBatch(
        tok,
        records.map((r) => ({ prompt: r.rephrase, target: r.target })),
        hp.legacy_mend_labels,
      ),
      loc: promptTargetBatch(
        tok,
        records.map((r) => ({ prompt: r.loc, target: r.locAnswer })),
      ),
    };
    const capture = captureFor(model, editor, batch.edit);
    try {
      const preLocLogits = T.noGrad(() => forwardBatch(model, batch.loc)); // [B, L, V]
      const preLocLogProbs = T.noGrad(() => T.logSoftmax(preLocLogits, -1));
      if (training) editor.observe(capture.factors);
      const stats: Stats = { 'loss/inner': capture.loss, 'acc/pre': tokenAccuracy(preLocLogits, batch.loc) };
      const record = (m: ReturnType<typeof metaLoss>): void => {
        stats['loss/edit'] = m.edit.item();
        stats['loss/loc'] = m.loc.item();
        stats['loss/total_edit'] = m.total.item();
        stats['loss/total'] = m.total.item();
        stats['edit/acc'] = tokenAccuracy(m.rephraseLogits, batch.rephrase);
        stats['acc/post'] = tokenAccuracy(m.locLogits, batch.loc);
      };
      if (training) {
        const { value, grads } = T.valueAndGrad(
          () => {
            const m = metaLoss(model, editor, capture, batch, preLocLogProbs, hp);
            T.noGrad(() => record(m));
            return m.total;
          },
          training.params.map(([, t]) => t),
        );
        value.dispose();
        const named = new Map(training.params.map(([n], i) => [n, grads[i]!]));
        if (!training.acc.add(named, hp.accumulate_bs)) stats['skipped'] = 1;
      } else {
        T.noGrad(() => record(metaLoss(model, editor, capture, batch, preLocLogProbs, hp)));
      }
      return stats;
    } finally {
      capture.dispose();
      batch.edit.dispose();
      batch.rephrase.dispose();
      batch.loc.dispose();
    }
  });
}

/** Mean statistics of editing the validation records in batches of val_batch_size (`*_val` keys). */
function validate(model: CausalLM, tok: Tokenizer, editor: MendEditor, hp: MendHParams, val: readonly MendTrainRecord[]): Stats {
  const avg = new Averager();
  const steps = Math.min(hp.val_steps, Math.ceil(val.length / hp.val_batch_size));
  for (let s = 0; s < steps; s++)
    avg.add(editStep(model, tok, editor, hp, val.slice(s * hp.val_batch_size, (s + 1) * hp.val_batch_size), null));
  return avg.average('_val');
}

function cloneState(editor: MendEditor): Map<string, Tensor> {
  const own = new Set(editor.namedParameters().map(([, t]) => t));
  const out = new Map<string, Tensor>();
  for (const [k, t] of editor.stateTensors()) {
    out.set(k, own.has(t) ? T.keep(T.noGrad(() => T.clone(t))) : t);
  }
  return out;
}

/**
 * Train a MEND editor for `model`.
 * @example
 * const { editor, summary } = trainMend({ model, tokenizer, hparams: MEND_PRESETS['tiny-gpt2']!, train, val, outDir: 'runs/mend' });
 */
export function trainMend(o: TrainMendOptions): TrainMendResult {
  const { model, tokenizer: tok } = o;
  const log = o.log ?? (() => {});
  if (o.train.length === 0) throw new Error('MEND training: no training records');
  const identity = modelIdentity(model, o.modelSource);
  const hash = dataHash(o.train);
  let hp = o.hparams;
  let editor: MendEditor;
  let start = 0;
  let optimizerSteps = 0;
  let best: TrainingStateJson['best'] = { value: null, iteration: 0, current: 0 };
  let bestStats: Stats | null = null;
  let secondsBefore = 0;
  let resumedExtra: Map<string, Tensor> | null = null;
  if (o.outDir && hasTrainingState(o.outDir)) {
    if (!o.resume)
      throw new Error(
        `${o.outDir} already holds a MEND training run; pass --resume to continue it or choose another output folder`,
      );
    const st = loadTrainingState(o.outDir, model);
    if (st.json.dataHash !== hash) {
      st.editor.dispose();
      st.extra.forEach((t) => t.dispose());
      throw new Error(
        `${o.outDir}: the saved run was trained on other data (hash ${st.json.dataHash}, now ${hash}); resume with the same training file`,
      );
    }
    hp = st.json.hparams;
    editor = st.editor;
    start = st.json.iteration;
    optimizerSteps = st.json.optimizerSteps;
    best = st.json.best;
    bestStats = st.json.bestStats;
    secondsBefore = st.json.seconds;
    resumedExtra = st.extra;
    log(`MEND: resuming ${o.outDir} at iteration ${start} (${optimizerSteps} optimizer steps)`);
  } else {
    if (o.resume) log(`MEND: no training state in ${o.outDir ?? '(no folder)'}; starting from iteration 0`);
    editor = MendEditor.create(model, hp);
  }
  validateMendHParams(hp, 'MEND training hparams');
  const maxIters = o.maxIters ?? hp.max_iters;
  // what the saved editor and mend.yaml record: the iterations this run was given
  const hpRun: MendHParams = { ...hp, max_iters: maxIters };
  if (o.outDir) writeEditYaml(o.outDir, hpRun);
  const params = editor.namedParameters();
  const netParams = params.filter(([n]) => n !== 'edit_lrs');
  const opts = {
    opt: new NamedAdam(netParams, hp.lr),
    lr_opt: new NamedAdam(
      params.filter(([n]) => n === 'edit_lrs'),
      hp.lr_lr,
    ),
  };
  const acc = new GradAccumulator(params);
  if (resumedExtra) {
    restoreOptimizer(opts, acc, resumedExtra, optimizerSteps);
    resumedExtra.forEach((t) => t.dispose());
  }
  const order = new DataOrder(o.train.length, hp.seed);
  const epochLimit = hp.max_epochs === null ? Infinity : Math.ceil(((hp.max_epochs as number) * o.train.length) / hp.batch_size);
  const val = o.val && o.val.length > 0 ? o.val : null;
  let bestSnapshot: Map<string, Tensor> | null = null;
  const validations: TrainMendResult['validations'] = [];
  const trainLog: TrainMendResult['trainLog'] = [];
  const trainAvg = new Averager();
  const t0 = Date.now();
  const seconds = () => secondsBefore + (Date.now() - t0) / 1000;
  let stoppedBy: TrainingSummary['stoppedBy'] = 'max_iters';
  let iter = start;
  const line = new ProgressLine(o.progress === true, {
    label: 'MEND training',
    total: maxIters,
    initial: start,
    unit: 'iterations',
  });
  const progress = {
    update: (p: TrainProgress): void => {
      if (typeof o.progress === 'function') return o.progress(p);
      line.update(
        p.iteration,
        ['loss/total_edit', 'edit/acc']
          .filter((k) => k in p.stats)
          .map((k) => `${k} ${p.stats[k]!.toFixed(3)}`)
          .join(' '),
      );
    },
    stop: (ok = true): void => line.stop(ok),
  };

  const summaryAt = (iteration: number, valStats: Stats | null): TrainingSummary => ({
    iterations: iter,
    iteration,
    optimizerSteps,
    valStats,
    normSamples: [...editor.transforms.values()][0]?.xStats.count ?? 0,
    trainRecords: o.train.length,
    seconds: seconds(),
    stoppedBy,
  });
  const saveState = (): void => {
    if (!o.outDir) return;
    const extra = optimizerTensors(opts, acc);
    try {
      saveTrainingState(o.outDir, editor, extra, {
        format: 'lmedit-mend-training-state',
        version: 1,
        hparams: hp,
        model: identity,
        iteration: iter,
        optimizerSteps,
        best,
        bestStats,
        trainRecords: o.train.length,
        dataHash: hash,
        seconds: seconds(),
        stoppedBy,
      });
    } finally {
      extra.forEach((t) => t.dispose());
    }
    // without validation the usable editor is the latest one: keep it current at every checkpoint
    if (!val) saveEditor(o.outDir, editor, hpRun, identity, summaryAt(iter, null));
  };

  try {
    for (; iter < maxIters;) {
      if (iter >= epochLimit) {
        stoppedBy = 'max_epochs';
        break;
      }
      const i = iter;
      const records = order.indices(i, hp.batch_size).map((k) => o.train[k]!);
      trainAvg.add(editStep(model, tok, editor, hp, records, { acc, params }));
      if (i > 0 && i % hp.accumulate_bs === 0) {
        // EasyEdit's schedule: the first step also takes iteration 0's gradient
        acc.clip(hp.grad_clip);
        opts.opt.step(acc.sums);
        opts.lr_opt.step(acc.sums);
        acc.zero();
        optimizerSteps++;
      }
      iter = i + 1;
      if (i % hp.log_interval === 0 || iter === maxIters) {
        const stats = trainAvg.average();
        trainLog.push({ iteration: i, stats });
        log(
          `MEND iteration ${i}: ${fmtStats(stats)} edit_lrs [${editor.editLrs
            .toArray()
            .map((x) => x.toExponential(2))
            .join(', ')}]`,
        );
        trainAvg.reset();
      }
      let stop = false;
      // validate at every val_interval and at the last iteration, so the final editor is measured too
      if (val && (i % hp.val_interval === 0 || iter === maxIters)) {
        const stats = validate(model, tok, editor, hp, val);
        validations.push({ iteration: i, stats });
        const value = stats[hp.early_stop_key];
        if (value === undefined)
          throw new Error(
            `early_stop_key "${hp.early_stop_key}" is not a validation statistic (have ${Object.keys(stats).join(', ')})`,
          );
        const better = best.value === null || (higherIsBetter(hp.early_stop_key) ? value > best.value : value < best.value);
        best.current = i;
        if (better) {
          best = { value, iteration: i, current: i };
          bestStats = stats;
          if (o.outDir) saveEditor(o.outDir, editor, hpRun, identity, summaryAt(i, stats));
          else {
            bestSnapshot?.forEach((t) => t.dispose());
            bestSnapshot = cloneState(editor);
          }
        }
        log(`MEND validation at ${i}: ${fmtStats(stats)}${better ? ' (best)' : ''}`);
        if (best.current - best.iteration >= hp.early_stop_patience) {
          log(`MEND: no improvement of ${hp.early_stop_key} for ${hp.early_stop_patience} iterations; stopping`);
          stoppedBy = 'early_stop';
          stop = true;
        }
      }
      progress.update({ iteration: iter, maxIters, stats: trainLog[trainLog.length - 1]?.stats ?? {} });
      if (iter % hp.model_save_pt === 0) saveState();
      o.onIteration?.(i);
      if (stop) break;
    }
  } catch (e) {
    progress.stop(false);
    editor.dispose();
    bestSnapshot?.forEach((t) => t.dispose());
    throw e;
  }
  progress.stop();
  saveState();
  let result: MendEditor = editor;
  if (val) {
    if (o.outDir) {
      editor.dispose();
      result = readEditorDir(o.outDir, model, hp).editor;
    } else if (bestSnapshot) {
      result = MendEditor.create(model, hp);
      result.loadState(bestSnapshot, 'best editor', false);
      bestSnapshot.forEach((t) => t.dispose());
      editor.dispose();
    }
  }
  log(
    `MEND training: ${iter} iterations, ${optimizerSteps} optimizer steps in ${seconds().toFixed(1)} s${o.outDir ? `; editor in ${join(o.outDir, EDITOR_JSON)}` : ''}`,
  );
  return { editor: result, summary: summaryAt(val ? best.iteration : iter, bestStats), validations, trainLog };
}

function fmtStats(s: Stats): string {
  return ['loss/total_edit', 'loss/edit', 'loss/loc', 'edit/acc', 'acc/pre', 'acc/post']
    .flatMap((k) => [k, `${k}_val`])
    .filter((k) => k in s)
    .map((k) => `${k} ${s[k]!.toFixed(4)}`)
    .join(', ');
}
