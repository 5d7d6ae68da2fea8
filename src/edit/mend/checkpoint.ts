/**
 * MEND checkpoints in lmedit's own format — `DIR/editor.safetensors` (EasyEdit state_dict
 * names: `mend.<shape>.mlp.layers.i.{u,v,bias,mode_scale.weight,mode_shift.weight}`,
 * `mend.<shape>.{u,v}_{mean,std,s}`, `.k`, `edit_lrs`) + `DIR/editor.json` (hparams, model
 * identity, inner-parameter shapes, training summary) — the resumable training state, and
 * reading a safetensors export of an EasyEdit/MEND `.pt` state_dict (pickles are refused).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { Tensor } from '../../tensor/index.js';
import type { CausalLM } from '../../models/types.js';
import { loadSafetensors, saveSafetensors } from '../../io/safetensors.js';
import { MendEditor } from './editor.js';
import { validateMendHParams, type MendHParams } from './hparams.js';

export const EDITOR_TENSORS = 'editor.safetensors';
export const EDITOR_JSON = 'editor.json';
/** training-state-<iteration>.safetensors: a new file per save, so a kill never breaks the pair */
export const STATE_TENSORS_PREFIX = 'training-state-';
export const STATE_JSON = 'training-state.json';
/** The edit hparams written next to a trained editor (its `archive` points at the folder). */
export const EDIT_YAML = 'mend.yaml';
export const FORMAT = 'lmedit-mend';
export const VERSION = 1;

/** The shapes that tie an editor to a model. */
export interface ModelIdentity {
  arch: string;
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  vocabSize: number;
  weightLayout: 'in_out' | 'out_in';
  /** where the model was loaded from, when known */
  source?: string;
}

export function modelIdentity(model: CausalLM, source?: string): ModelIdentity {
  const c = model.config;
  return {
    arch: c.arch,
    numLayers: c.numLayers,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    vocabSize: c.vocabSize,
    weightLayout: model.arch.weightLayout,
    ...(source ? { source } : {}),
  };
}

/** Training summary stored with an editor. */
export interface TrainingSummary {
  /** iterations run */
  iterations: number;
  /** iteration at which this editor was taken */
  iteration: number;
  optimizerSteps: number;
  /** validation statistics of this editor (keys as EasyEdit: loss/total_edit_val, edit/acc_val, ...) */
  valStats: Record<string, number> | null;
  /** samples seen by the normalisation statistics */
  normSamples: number;
  trainRecords: number;
  seconds: number;
  stoppedBy: 'max_iters' | 'max_epochs' | 'early_stop' | 'running';
}

/** editor.json */
export interface EditorJson {
  format: typeof FORMAT;
  version: number;
  tensors: string;
  hparams: MendHParams;
  model: ModelIdentity;
  inner_params: { name: string; din: number; dout: number; net: string; mode: number | null }[];
  normalization: string;
  training: TrainingSummary | null;
}

/** Write JSON atomically (temporary file in the same folder, then rename). */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, path);
}

function readJsonFile<J>(path: string): J {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as J;
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
  }
}

function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/**
 * Save a trained editor to `dir` (created when missing): tensors first, then the JSON that
 * names them, both atomically, so a reader never sees a half-written editor.
 * @example saveEditor('runs/mend-gpt2', editor, hp, modelIdentity(model), summary);
 */
export function saveEditor(
  dir: string,
  editor: MendEditor,
  hp: MendHParams,
  model: ModelIdentity,
  training: TrainingSummary | null,
): void {
  mkdirSync(dir, { recursive: true });
  const tensors = editor.stateTensors();
  try {
    saveSafetensors(join(dir, EDITOR_TENSORS), tensors, { format: 'pt', producer: 'lmedit', method: 'MEND' });
  } finally {
    // stateTensors made fresh statistics tensors; the parameters belong to the editor
    const own = new Set(editor.namedParameters().map(([, t]) => t));
    for (const t of tensors.values()) if (!own.has(t)) t.dispose();
  }
  const json: EditorJson = {
    format: FORMAT,
    version: VERSION,
    tensors: EDITOR_TENSORS,
    hparams: hp,
    model,
    inner_params: editor.params.map((p) => ({ name: p.name, din: p.din, dout: p.dout, net: p.netKey, mode: p.mode })),
    normalization: hp.norm
      ? `running mean/std of x and δ (Welford), frozen after training; ${training?.normSamples ?? 0} rows`
      : 'none (norm: false)',
    training,
  };
  writeJsonAtomic(join(dir, EDITOR_JSON), json);
}

/** An EasyEdit-style edit YAML for a trained editor (`archive` = the folder). */
export function writeEditYaml(dir: string, hp: MendHParams): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, EDIT_YAML);
  const out: Record<string, unknown> = { alg_name: 'MEND', ...hp, archive: resolve(dir) };
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `# written by lmedit mend train; use with: lmedit edit --method mend --hparams ${path}\n${toYaml(out)}`);
  renameSync(tmp, path);
  return path;
}

const PICKLE_RE = /\.(pt|pth|bin|ckpt|pkl)$/i;

/** The error for EasyEdit/MEND pickle checkpoints, with the one-off conversion to safetensors. */
function pickleError(path: string): Error {
  return new Error(
    `${path}: a PyTorch pickle checkpoint. lmedit does not load pickle files (unpickling can execute arbitrary code). ` +
      'Export the MEND state_dict once, in Python, from a checkpoint you trust (its "model_config" entry is not a tensor):\n' +
      '    import torch; from safetensors.torch import save_file\n' +
      `    ckpt = torch.load("${path}", map_location="cpu", weights_only=False)\n` +
      '    save_file({k: v.contiguous() for k, v in ckpt["model"].items() if torch.is_tensor(v)}, "mend.safetensors")\n' +
      'then set `archive: mend.safetensors` (keys mend.<shape>.* or gtn.<shape>.*, edit_lrs; inner_params and the network settings come from your hparams).',
  );
}

/** Check an editor's inner parameters against the model and the hparams. */
function checkInnerParams(json: EditorJson, model: CausalLM, hp: MendHParams, source: string): void {
  const want = json.hparams.inner_params;
  if (hp.inner_params.length !== want.length || hp.inner_params.some((n, i) => n !== want[i])) {
    throw new Error(
      `${source}: the editor was trained for inner_params [${want.join(', ')}] but the hparams list [${hp.inner_params.join(', ')}] (same names in the same order are required: they index edit_lrs)`,
    );
  }
  for (const p of json.inner_params) {
    const w = model.param(p.name);
    const [din, dout] = model.arch.weightLayout === 'in_out' ? [w.shape[0], w.shape[1]] : [w.shape[1], w.shape[0]];
    if (din !== p.din || dout !== p.dout) {
      throw new Error(
        `${source}: ${p.name} is ${din} -> ${dout} in this model but ${p.din} -> ${p.dout} in the editor (trained on a different model: ${json.model.arch} ${json.model.numLayers}x${json.model.hiddenSize})`,
      );
    }
  }
}

/**
 * Read our editor folder. The network structure (rank, n_hidden, init, norm, combine,
 * shared) comes from the checkpoint; the caller's hparams must list the same inner_params.
 */
export function readEditorDir(dir: string, model: CausalLM, hp: MendHParams): { editor: MendEditor; json: EditorJson } {
  const json = readJsonFile<EditorJson>(join(dir, EDITOR_JSON));
  if (json.format !== FORMAT)
    throw new Error(`${join(dir, EDITOR_JSON)}: not an lmedit MEND editor (format "${String(json.format)}")`);
  if (json.version > VERSION)
    throw new Error(`${join(dir, EDITOR_JSON)}: format version ${json.version} is newer than this lmedit (${VERSION})`);
  checkInnerParams(json, model, hp, dir);
  const trained = json.hparams;
  const { tensors } = loadSafetensors(join(dir, json.tensors || EDITOR_TENSORS), { dtype: 'keep' });
  const editor = MendEditor.create(model, trained);
  try {
    editor.loadState(tensors, join(dir, json.tensors), trained.norm);
  } catch (e) {
    editor.dispose();
    throw e;
  } finally {
    disposeAll(tensors);
  }
  return { editor, json };
}

/**
 * Read a safetensors export of an EasyEdit/MEND state_dict: `mend.<shape>.*` (or the older
 * `gtn.<shape>.*`) and `edit_lrs`; `model.*` entries of a full EditableModel dict are skipped.
 * The network structure is the caller's hparams (as in EasyEdit).
 */
export function readStateDict(path: string, model: CausalLM, hp: MendHParams): MendEditor {
  const { tensors } = loadSafetensors(path, { dtype: 'keep', names: (n) => !n.startsWith('model.') });
  const editor = MendEditor.create(model, hp);
  try {
    editor.loadState(tensors, path, hp.norm);
  } catch (e) {
    editor.dispose();
    throw e;
  } finally {
    disposeAll(tensors);
  }
  return editor;
}

let cache: { key: string; editor: MendEditor } | null = null;

/**
 * The trained editor named by `archive` (our folder, its editor.json, or a state_dict
 * safetensors file), cached while the file and the settings stay the same.
 * @example const editor = loadEditor(hp.archive, model, hp);
 */
export function loadEditor(archive: string | null, model: CausalLM, hp: MendHParams, log?: (m: string) => void): MendEditor {
  validateMendHParams(hp);
  if (!archive) {
    throw new Error(
      'MEND needs a trained editor: set `archive` in the hparams to a folder written by `lmedit mend train` (it also writes DIR/mend.yaml to pass as --hparams), or to a safetensors export of an EasyEdit MEND checkpoint',
    );
  }
  let path = resolve(archive);
  if (!existsSync(path)) throw new Error(`MEND archive ${archive} does not exist`);
  if (PICKLE_RE.test(path)) throw pickleError(path);
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, EDITOR_JSON)))
      throw new Error(`MEND archive ${archive}: no ${EDITOR_JSON} in the folder (train one with lmedit mend train)`);
  } else if (path.endsWith(EDITOR_JSON)) {
    path = resolve(path, '..');
  } else if (!path.endsWith('.safetensors')) {
    throw new Error(
      `MEND archive ${archive}: expected a folder written by lmedit mend train or a .safetensors state_dict export`,
    );
  }
  const file = statSync(path).isDirectory() ? join(path, EDITOR_TENSORS) : path;
  const key = JSON.stringify([
    path,
    statSync(file).mtimeMs,
    statSync(file).size,
    hp.inner_params,
    model.arch.weightLayout,
    hp.rank,
    hp.n_hidden,
    hp.init,
    hp.norm,
    hp.combine,
    hp.shared,
    hp.one_sided,
    hp.x_only,
    hp.delta_only,
    hp.seed,
  ]);
  if (cache?.key === key) return cache.editor;
  const editor = statSync(path).isDirectory() ? readEditorDir(path, model, hp).editor : readStateDict(path, model, hp);
  log?.(`MEND: loaded editor ${archive}`);
  cache?.editor.dispose();
  cache = { key, editor };
  return editor;
}

/** Drop the cached editor (frees its tensors). */
export function clearEditorCache(): void {
  cache?.editor.dispose();
  cache = null;
}

// ---- training state -----------------------------------------------------------------------

/** Everything `lmedit mend train --resume` needs besides the editor tensors. */
export interface TrainingStateJson {
  format: 'lmedit-mend-training-state';
  version: number;
  /** the tensor file of this state */
  tensors: string;
  hparams: MendHParams;
  model: ModelIdentity;
  /** the next iteration to run */
  iteration: number;
  optimizerSteps: number;
  /** early stopping: best value and its iteration, last validated iteration */
  best: { value: number | null; iteration: number; current: number };
  /** validation stats of the best editor so far */
  bestStats: Record<string, number> | null;
  trainRecords: number;
  /** hash of the training prompts: resuming on other data is refused */
  dataHash: string;
  seconds: number;
  stoppedBy: TrainingSummary['stoppedBy'];
}

/**
 * Save the resumable state: editor tensors, Adam moments (`adam.<opt>.m.<name>`, ...) and
 * gradients accumulated since the last optimizer step (`grad.<name>`) into a new
 * training-state-<iteration>.safetensors, then the JSON naming it (atomic), then remove
 * older tensor files: a kill at any point leaves a consistent pair.
 */
export function saveTrainingState(
  dir: string,
  editor: MendEditor,
  extra: Map<string, Tensor>,
  json: Omit<TrainingStateJson, 'tensors'>,
): void {
  mkdirSync(dir, { recursive: true });
  const file = `${STATE_TENSORS_PREFIX}${json.iteration}.safetensors`;
  const tensors = editor.stateTensors();
  const own = new Set(editor.namedParameters().map(([, t]) => t));
  try {
    for (const [k, t] of extra) tensors.set(k, t);
    saveSafetensors(join(dir, file), tensors, { format: 'pt', producer: 'lmedit', iteration: String(json.iteration) });
  } finally {
    for (const [k, t] of tensors) if (!own.has(t) && !extra.has(k)) t.dispose();
  }
  writeJsonAtomic(join(dir, STATE_JSON), { ...json, tensors: file });
  for (const f of readdirSync(dir)) {
    if (f !== file && f.startsWith(STATE_TENSORS_PREFIX) && f.endsWith('.safetensors')) rmSync(join(dir, f), { force: true });
  }
}

/** Whether `dir` holds a training state. */
export function hasTrainingState(dir: string): boolean {
  return existsSync(join(dir, STATE_JSON));
}

/**
 * Load a training state into a fresh editor; returns the JSON and the extra tensors (Adam
 * moments, accumulated gradients), which the caller owns.
 */
export function loadTrainingState(
  dir: string,
  model: CausalLM,
): { json: TrainingStateJson; editor: MendEditor; extra: Map<string, Tensor> } {
  const json = readJsonFile<TrainingStateJson>(join(dir, STATE_JSON));
  if (json.format !== 'lmedit-mend-training-state')
    throw new Error(`${join(dir, STATE_JSON)}: not an lmedit MEND training state`);
  const { tensors, metadata } = loadSafetensors(join(dir, json.tensors), { dtype: 'keep' });
  if (metadata['iteration'] !== String(json.iteration)) {
    disposeAll(tensors);
    throw new Error(
      `${dir}: ${json.tensors} (iteration ${metadata['iteration']}) does not match ${STATE_JSON} (iteration ${json.iteration})`,
    );
  }
  const extra = new Map<string, Tensor>();
  const editorTensors = new Map<string, Tensor>();
  for (const [k, t] of tensors) (k.startsWith('adam.') || k.startsWith('grad.') ? extra : editorTensors).set(k, t);
  const editor = MendEditor.create(model, json.hparams);
  try {
    editor.loadState(editorTensors, join(dir, json.tensors), false);
  } catch (e) {
    editor.dispose();
    disposeAll(extra);
    throw e;
  } finally {
    disposeAll(editorTensors);
  }
  return { json, editor, extra };
}
