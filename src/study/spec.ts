/**
 * Study files: parse and validate a study (YAML or JSON, snake_case fields, docs/studies.md) into
 * a `StudySpec` with every default filled in, and write one back. Like the hparams files
 * (src/edit/hparams.ts), errors name the file and the field path, and unknown fields are errors
 * (with a "did you mean" for near names). All problems of a file are reported at once, one line
 * each.
 */
import { readFileSync } from 'node:fs';
import { Document, isScalar, parse as parseYaml, visit } from 'yaml';
import { PRUNE_KINDS } from '../edit/prune/index.js';
import { METHOD_NAMES } from '../edit/registry.js';
import type { ScorerChoice } from '../eval/run.js';
import { TASK_NAMES } from '../eval/tasks/types.js';
import { WORLD_TASK_NAMES } from '../world/types.js';
import { sliceCapacity, studyEditsNeeded } from './cells.js';
import type {
  RegulariserModeName,
  StudyData,
  StudyMethod,
  StudyMetrics,
  StudyMode,
  StudyProbes,
  StudyQuirks,
  StudyTaskName,
  StudySpec,
  StudyTasks,
} from './types.js';

/**
 * Methods that edit one request at a time (`EditMethod.batchable` false). The registry loads
 * methods lazily, so this list is kept here; spec.test.ts checks it against the methods.
 */
export const SINGLE_REQUEST_METHODS: readonly string[] = ['rome', 'r-rome', 'kn'];

export const MODEL_DTYPES = ['float32', 'float16', 'bfloat16'] as const;
export const SCORER_CHOICES: readonly ScorerChoice[] = ['paper', 'clean', 'both'];
export const METRIC_ORDERS: readonly StudyMetrics['order'][] = ['post-each', 'post-all'];
export const REGULARISER_MODES: readonly RegulariserModeName[] = ['rect', 'random', 'pca'];
/** RECT's keep fraction when a study gives `rect` without `keep` (the paper's compromise, top-40 %). */
export const DEFAULT_RECT_KEEP = 0.4;

const FIELDS = {
  '': ['name', 'model', 'methods', 'mode', 'data', 'tasks', 'metrics', 'probes', 'seeds', 'quirks'],
  model: ['path', 'dtype'],
  method: ['name', 'method', 'hparams', 'preset', 'rect', 'prune', 'batch_sizes'],
  rect: ['keep', 'mode'],
  prune: ['restraint', 'base', 'rank_truncate'],
  mode: ['sequential', 'batch_sizes', 'checkpoints'],
  data: ['file', 'begin', 'end', 'step'],
  tasks: ['names', 'limit', 'scorer', 'batch_size'],
  metrics: ['enabled', 'order'],
  probes: ['unrelated_recall', 'perplexity'],
  seeds: ['edit', 'tasks'],
  quirks: ['legacy_sequential_bug', 'legacy_batch_chunking', 'drop_incomplete_chunk'],
} as const;

/** The display name of a method: its registry name in upper case ("rome" → "ROME", "r-rome" → "R-ROME"). */
export function methodLabel(method: string): string {
  return method === 'alphaedit' ? 'AlphaEdit' : method.toUpperCase();
}

/** "40%", "12.5%": a keep fraction as the paper writes it. */
function percent(keep: number): string {
  return `${Number((keep * 100).toFixed(6))}%`;
}

/**
 * A variant's default name: "ROME", "ROME+RECT-40%", "ROME+Random-40%", "ROME+PCA-40%"
 * (the labels of the paper's RECT figures).
 */
export function variantName(method: string, rect?: StudyMethod['rect'], prune?: StudyMethod['prune']): string {
  let name = methodLabel(method);
  if (rect) name += `+${rect.mode === 'rect' ? 'RECT' : rect.mode === 'pca' ? 'PCA' : 'Random'}-${percent(rect.keep)}`;
  if (prune) name += `+PRUNE${pruneSuffix(prune)}`;
  return name;
}

/** "" for the default log base e, "-log2", "-log1.5", "-linear"; "-full" without rank truncation. */
function pruneSuffix(p: NonNullable<StudyMethod['prune']>): string {
  const kind = p.restraint === 'linear' ? '-linear' : p.base === Math.E ? '' : `-log${Number(p.base.toFixed(6))}`;
  return kind + (p.rank_truncate ? '' : '-full');
}

/** PRUNE's shorthands: `prune: true` / `log` (base e), `log2`, `log1.5`, `log1.2`, `linear`. */
const PRUNE_SHORTHANDS: Record<string, NonNullable<StudyMethod['prune']>> = Object.fromEntries(
  Object.entries(PRUNE_KINDS).map(([k, o]) => [k, { restraint: o.restraint, base: o.logBase, rank_truncate: o.rankTruncate }]),
);

/** Levenshtein distance (small strings only). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known name closest to `word` (same letters after snake-casing and lower-casing, or a few edits away), if any. */
export function closest(word: string, known: readonly string[]): string | undefined {
  const norm = (s: string): string =>
    s
      .replace(/[A-Z]/g, (c) => `_${c}`)
      .toLowerCase()
      .replace(/[-\s]/g, '_');
  const w = norm(word);
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = norm(k) === w ? 0 : distance(w, norm(k));
    if (d < bestD) [best, bestD] = [k, d];
  }
  const limit = Math.max(1, Math.min(3, Math.floor(w.length / 3)));
  return bestD <= limit ? best : undefined;
}

type Raw = Record<string, unknown>;

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Collects the problems of one file; every check returns undefined after recording a problem. */
class Checker {
  readonly errors: string[] = [];
  constructor(readonly source: string) {}

  fail(path: string, msg: string): undefined {
    this.errors.push(`${this.source}: field "${path}": ${msg}`);
    return undefined;
  }

  expected(path: string, what: string, v: unknown): undefined {
    return this.fail(path, `expected ${what}, got ${shown(v)}`);
  }

  /** A mapping whose keys are all in `known` (an unknown key is an error naming its full path). */
  mapping(v: unknown, path: string, known: readonly string[]): Raw | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      if (path === '') {
        this.errors.push(`${this.source}: a study must be a mapping of fields (${known.join(', ')}), got ${shown(v)}`);
        return undefined;
      }
      return this.expected(path, 'a mapping', v);
    }
    const obj = v as Raw;
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const full = path ? `${path}.${key}` : key;
      const near = closest(key, known);
      const hint = near ? ` (did you mean "${path ? `${path}.${near}` : near}"?)` : '';
      this.errors.push(`${this.source}: unknown field "${full}"${hint}; known: ${known.join(', ')}`);
    }
    return obj;
  }

  /** The value of `key` (null counts as absent); records a problem when it is required and absent. */
  get(obj: Raw, key: string, path: string, required = false): unknown {
    const v = obj[key];
    if ((v === undefined || v === null) && required) {
      this.errors.push(`${this.source}: missing required field "${path}"`);
    }
    return v ?? undefined;
  }

  string(v: unknown, path: string): string | undefined {
    if (typeof v !== 'string' || v.trim() === '') return this.expected(path, 'a non-empty string', v);
    return v;
  }

  bool(v: unknown, path: string): boolean | undefined {
    return typeof v === 'boolean' ? v : this.expected(path, 'true or false', v);
  }

  int(v: unknown, path: string, min: 0 | 1): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min) return v;
    return this.expected(path, min === 1 ? 'a positive integer' : 'a non-negative integer', v);
  }

  oneOf<V extends string>(v: unknown, path: string, choices: readonly V[]): V | undefined {
    if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as V;
    const near = typeof v === 'string' ? closest(v, choices) : undefined;
    return this.fail(
      path,
      `expected one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${shown(v)}${near ? ` (did you mean "${near}"?)` : ''}`,
    );
  }

  list(v: unknown, path: string): unknown[] | undefined {
    return Array.isArray(v) ? v : this.expected(path, 'a list', v);
  }

  /** A list of integers ≥ `min`, each reported at its index; undefined when any item is bad. */
  ints(v: unknown, path: string, min: 0 | 1): number[] | undefined {
    const items = this.list(v, path);
    if (!items) return undefined;
    const out = items.map((x, i) => this.int(x, `${path}[${i}]`, min));
    return out.every((x) => x !== undefined) ? (out as number[]) : undefined;
  }
}

/** Variant names appear in cell ids and file names: no path separators or characters Windows refuses. */
function badFileName(name: string): boolean {
  return /[/\\:*?"<>|]/.test(name) || [...name].some((ch) => ch.charCodeAt(0) < 32) || name !== name.trim();
}
/** Study names become folder names. */
const STUDY_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

function parseModel(c: Checker, v: unknown): StudySpec['model'] | undefined {
  if (typeof v === 'string') return c.string(v, 'model') !== undefined ? { path: v, dtype: 'float32' } : undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return c.expected('model', 'a model path or a mapping (path, dtype)', v);
  const m = c.mapping(v, 'model', FIELDS.model);
  if (!m) return undefined;
  const path = c.get(m, 'path', 'model.path', true);
  const dtypeRaw = c.get(m, 'dtype', 'model.dtype');
  const p = path === undefined ? undefined : c.string(path, 'model.path');
  const dtype = dtypeRaw === undefined ? 'float32' : c.oneOf(dtypeRaw, 'model.dtype', MODEL_DTYPES);
  return p !== undefined && dtype !== undefined ? { path: p, dtype } : undefined;
}

function parseRect(c: Checker, v: unknown, path: string): StudyMethod['rect'] | undefined {
  // shorthand: `rect: 0.4`
  const m: Raw | undefined = typeof v === 'number' ? { keep: v } : c.mapping(v, path, FIELDS.rect);
  if (!m) return undefined;
  const keepRaw = c.get(m, 'keep', `${path}.keep`);
  const modeRaw = c.get(m, 'mode', `${path}.mode`);
  let keep: number | undefined = DEFAULT_RECT_KEEP;
  if (keepRaw !== undefined) {
    keep =
      typeof keepRaw === 'number' && keepRaw > 0 && keepRaw <= 1
        ? keepRaw
        : c.expected(typeof v === 'number' ? path : `${path}.keep`, 'a fraction in (0, 1]', keepRaw);
  }
  const mode = modeRaw === undefined ? 'rect' : c.oneOf(modeRaw, `${path}.mode`, REGULARISER_MODES);
  return keep !== undefined && mode !== undefined ? { keep, mode } : undefined;
}

function parsePrune(c: Checker, v: unknown, path: string): StudyMethod['prune'] | undefined {
  if (v === true) return PRUNE_SHORTHANDS['log'];
  if (typeof v === 'string') {
    const known = PRUNE_SHORTHANDS[v];
    return (
      known ??
      c.expected(
        path,
        `true or one of ${Object.keys(PRUNE_SHORTHANDS).join(', ')}, or a mapping (restraint, base, rank_truncate)`,
        v,
      )
    );
  }
  const m: Raw | undefined = c.mapping(v, path, FIELDS.prune);
  if (!m) return undefined;
  const rRaw = c.get(m, 'restraint', `${path}.restraint`);
  const bRaw = c.get(m, 'base', `${path}.base`);
  const tRaw = c.get(m, 'rank_truncate', `${path}.rank_truncate`);
  const restraint = rRaw === undefined ? 'log' : c.oneOf(rRaw, `${path}.restraint`, ['log', 'linear'] as const);
  const base =
    bRaw === undefined
      ? Math.E
      : typeof bRaw === 'number' && bRaw > 1
        ? bRaw
        : c.expected(`${path}.base`, 'a log base > 1', bRaw);
  const rank_truncate = tRaw === undefined ? true : c.bool(tRaw, `${path}.rank_truncate`);
  return restraint !== undefined && base !== undefined && rank_truncate !== undefined
    ? { restraint, base, rank_truncate }
    : undefined;
}

function parseMethod(c: Checker, v: unknown, path: string): StudyMethod | undefined {
  // shorthand: `- rome`
  if (typeof v !== 'string' && (v === null || typeof v !== 'object' || Array.isArray(v))) {
    return c.expected(path, 'a method name or a mapping (name, method, hparams, preset, rect)', v);
  }
  const m: Raw | undefined = typeof v === 'string' ? { method: v } : c.mapping(v, path, FIELDS.method);
  if (!m) return undefined;
  const methodRaw = c.get(m, 'method', `${path}.method`, true);
  let method: string | undefined;
  if (methodRaw !== undefined) {
    const s = c.string(methodRaw, `${path}.method`);
    if (s !== undefined) {
      if (METHOD_NAMES.includes(s.toLowerCase())) method = s.toLowerCase();
      else {
        const near = closest(s.toLowerCase(), METHOD_NAMES);
        c.fail(
          `${path}.method`,
          `unknown method ${shown(s)}${near ? ` (did you mean "${near}"?)` : ''}; methods: ${METHOD_NAMES.join(', ')}`,
        );
      }
    }
  }
  const hparamsRaw = c.get(m, 'hparams', `${path}.hparams`);
  const presetRaw = c.get(m, 'preset', `${path}.preset`);
  const hparams = hparamsRaw === undefined ? undefined : c.string(hparamsRaw, `${path}.hparams`);
  const preset = presetRaw === undefined ? undefined : c.string(presetRaw, `${path}.preset`);
  if (hparams !== undefined && preset !== undefined) {
    c.fail(`${path}.preset`, 'give either hparams (a file) or preset (a preset key), not both');
  }
  const rectRaw = c.get(m, 'rect', `${path}.rect`);
  const rect = rectRaw === undefined ? undefined : parseRect(c, rectRaw, `${path}.rect`);
  const pruneRaw = c.get(m, 'prune', `${path}.prune`);
  const prune = pruneRaw === undefined || pruneRaw === false ? undefined : parsePrune(c, pruneRaw, `${path}.prune`);
  if (method === undefined || (rectRaw !== undefined && rect === undefined)) return undefined;
  if (pruneRaw !== undefined && pruneRaw !== false && prune === undefined) return undefined;
  const bsRaw = c.get(m, 'batch_sizes', `${path}.batch_sizes`);
  const batchSizes = bsRaw === undefined ? undefined : c.ints(bsRaw, `${path}.batch_sizes`, 1);
  if (bsRaw !== undefined && (!batchSizes || batchSizes.length === 0 || new Set(batchSizes).size !== batchSizes.length)) {
    if (batchSizes) c.fail(`${path}.batch_sizes`, `expected distinct positive batch sizes, got ${shown(bsRaw)}`);
    return undefined;
  }
  const nameRaw = c.get(m, 'name', `${path}.name`);
  let name: string | undefined = variantName(method, rect, prune);
  if (nameRaw !== undefined) {
    name = c.string(nameRaw, `${path}.name`);
    if (name !== undefined && badFileName(name)) {
      name = c.fail(
        `${path}.name`,
        `${shown(name)} cannot name files (no / \\ : * ? " < > |, control characters or surrounding spaces)`,
      );
    }
  }
  if (name === undefined) return undefined;
  return {
    name,
    method,
    ...(hparams !== undefined ? { hparams } : {}),
    ...(preset !== undefined ? { preset } : {}),
    ...(rect !== undefined ? { rect } : {}),
    ...(prune !== undefined ? { prune } : {}),
    ...(batchSizes !== undefined ? { batch_sizes: batchSizes } : {}),
  };
}

function parseMode(c: Checker, v: unknown): StudyMode | undefined {
  const m = c.mapping(v, 'mode', FIELDS.mode);
  if (!m) return undefined;
  const seqRaw = c.get(m, 'sequential', 'mode.sequential', true);
  const sequential = seqRaw === undefined ? undefined : c.bool(seqRaw, 'mode.sequential');
  const bsRaw = c.get(m, 'batch_sizes', 'mode.batch_sizes');
  let batch_sizes = bsRaw === undefined ? [1] : c.ints(bsRaw, 'mode.batch_sizes', 1);
  if (batch_sizes) {
    if (batch_sizes.length === 0) batch_sizes = c.expected('mode.batch_sizes', 'at least one batch size', bsRaw);
    else {
      const dup = batch_sizes.find((b, i) => batch_sizes!.indexOf(b) !== i);
      if (dup !== undefined) batch_sizes = c.fail('mode.batch_sizes', `batch size ${dup} appears twice`);
    }
  }
  const cpRaw = c.get(m, 'checkpoints', 'mode.checkpoints', sequential === true);
  let checkpoints = cpRaw === undefined ? [] : c.ints(cpRaw, 'mode.checkpoints', 0);
  if (checkpoints && sequential === true) {
    const i = checkpoints.findIndex((x, k) => k > 0 && x <= checkpoints![k - 1]!);
    if (i > 0) checkpoints = c.fail(`mode.checkpoints[${i}]`, `checkpoints must be ascending and unique, got ${shown(cpRaw)}`);
    else if (!checkpoints.some((x) => x > 0)) {
      checkpoints = c.fail('mode.checkpoints', `a sequential study needs a checkpoint above 0, got ${shown(cpRaw)}`);
    }
  } else if (checkpoints && sequential === false && checkpoints.length > 0) {
    checkpoints = c.fail(
      'mode.checkpoints',
      'a single-edit study has no checkpoints (each batch size is edited once, from the unedited model); remove the field',
    );
  }
  if (sequential === undefined || !batch_sizes || !checkpoints) return undefined;
  return { sequential, batch_sizes, checkpoints };
}

function parseData(c: Checker, v: unknown): StudyData | undefined {
  const m = c.mapping(v, 'data', FIELDS.data);
  if (!m) return undefined;
  const fileRaw = c.get(m, 'file', 'data.file', true);
  const file = fileRaw === undefined ? undefined : c.string(fileRaw, 'data.file');
  const beginRaw = c.get(m, 'begin', 'data.begin');
  const begin = beginRaw === undefined ? 0 : c.int(beginRaw, 'data.begin', 0);
  const stepRaw = c.get(m, 'step', 'data.step');
  const step = stepRaw === undefined ? 1 : c.int(stepRaw, 'data.step', 1);
  const endRaw = c.get(m, 'end', 'data.end');
  let end: number | undefined;
  let endOk = true;
  if (endRaw !== undefined) {
    end = c.int(endRaw, 'data.end', 1);
    if (end === undefined) endOk = false;
    else if (begin !== undefined && end <= begin) {
      endOk = c.fail('data.end', `expected an index above data.begin (${begin}), got ${end}`) ?? false;
    }
  }
  if (file === undefined || begin === undefined || step === undefined || !endOk) return undefined;
  return { file, begin, ...(end !== undefined ? { end } : {}), step };
}

/** Names accepted in tasks.names: the paper's eight and the world model's skills. */
const STUDY_TASK_NAMES: readonly StudyTaskName[] = [...TASK_NAMES, ...WORLD_TASK_NAMES];
const isWorldTask = (t: StudyTaskName): boolean => (WORLD_TASK_NAMES as readonly string[]).includes(t);

function parseTasks(c: Checker, v: unknown): StudyTasks | undefined {
  const m = v === undefined ? {} : c.mapping(v, 'tasks', FIELDS.tasks);
  if (!m) return undefined;
  const namesRaw = c.get(m, 'names', 'tasks.names');
  let names: StudyTaskName[] | undefined = [...TASK_NAMES];
  if (namesRaw === 'world') names = [...WORLD_TASK_NAMES];
  else if (namesRaw !== undefined && namesRaw !== 'all') {
    const items = c.list(namesRaw, 'tasks.names');
    const got: StudyTaskName[] = [];
    let ok = items !== undefined;
    (items ?? []).forEach((x, i) => {
      const t = c.oneOf(x, `tasks.names[${i}]`, STUDY_TASK_NAMES);
      if (t === undefined) ok = false;
      else if (got.includes(t)) ok = c.fail(`tasks.names[${i}]`, `task "${t}" appears twice`) ?? false;
      else got.push(t);
    });
    if (ok && got.some(isWorldTask) && !got.every(isWorldTask)) {
      ok =
        c.fail(
          'tasks.names',
          `mixes the paper's tasks with a world model's tasks (${got.filter(isWorldTask).join(', ')}); a study evaluates one model's kind of tasks`,
        ) ?? false;
    }
    names = ok ? got : undefined;
  }
  const world = names !== undefined && names.length > 0 && names.every(isWorldTask);
  const limitRaw = c.get(m, 'limit', 'tasks.limit');
  const limit = limitRaw === undefined ? undefined : c.int(limitRaw, 'tasks.limit', 1);
  const scorerRaw = c.get(m, 'scorer', 'tasks.scorer');
  let scorer = scorerRaw === undefined ? (world ? 'clean' : 'both') : c.oneOf(scorerRaw, 'tasks.scorer', SCORER_CHOICES);
  if (world && scorer !== undefined && scorer !== 'clean') {
    scorer = c.fail('tasks.scorer', `world tasks have only the clean scorer (no paper script exists for them), got "${scorer}"`);
  }
  const bsRaw = c.get(m, 'batch_size', 'tasks.batch_size');
  const batch_size = bsRaw === undefined ? 8 : c.int(bsRaw, 'tasks.batch_size', 1);
  if (!names || scorer === undefined || batch_size === undefined || (limitRaw !== undefined && limit === undefined))
    return undefined;
  return { names, ...(limit !== undefined ? { limit } : {}), scorer, batch_size };
}

function parseMetrics(c: Checker, v: unknown): StudyMetrics | undefined {
  const m = v === undefined ? {} : c.mapping(v, 'metrics', FIELDS.metrics);
  if (!m) return undefined;
  const enabledRaw = c.get(m, 'enabled', 'metrics.enabled');
  const enabled = enabledRaw === undefined ? true : c.bool(enabledRaw, 'metrics.enabled');
  const orderRaw = c.get(m, 'order', 'metrics.order');
  const order = orderRaw === undefined ? 'post-each' : c.oneOf(orderRaw, 'metrics.order', METRIC_ORDERS);
  return enabled !== undefined && order !== undefined ? { enabled, order } : undefined;
}

function parseSeeds(c: Checker, v: unknown): StudySpec['seeds'] | undefined {
  const m = v === undefined ? {} : c.mapping(v, 'seeds', FIELDS.seeds);
  if (!m) return undefined;
  const editRaw = c.get(m, 'edit', 'seeds.edit');
  const tasksRaw = c.get(m, 'tasks', 'seeds.tasks');
  const edit = editRaw === undefined ? 0 : c.int(editRaw, 'seeds.edit', 0);
  const tasks = tasksRaw === undefined ? 0 : c.int(tasksRaw, 'seeds.tasks', 0);
  return edit !== undefined && tasks !== undefined ? { edit, tasks } : undefined;
}

/** A section of yes/no switches, each false unless set (`probes`, `quirks`). */
function parseSwitches<K extends string>(
  c: Checker,
  v: unknown,
  section: 'probes' | 'quirks',
  keys: readonly K[],
): Record<K, boolean> | undefined {
  const m = v === undefined ? {} : c.mapping(v, section, keys);
  if (!m) return undefined;
  const out: Partial<Record<K, boolean>> = {};
  let ok = true;
  for (const key of keys) {
    const raw = c.get(m, key, `${section}.${key}`);
    const b = raw === undefined ? false : c.bool(raw, `${section}.${key}`);
    if (b === undefined) ok = false;
    else out[key] = b;
  }
  return ok ? (out as Record<K, boolean>) : undefined;
}

/** Checks across fields, run once every field parsed. */
function crossCheck(c: Checker, spec: StudySpec): void {
  const seen = new Map<string, number>();
  spec.methods.forEach((m, i) => {
    const first = seen.get(m.name);
    if (first !== undefined) {
      c.fail(
        `methods[${i}].name`,
        `variant name "${m.name}" is already used by methods[${first}]; give one of them a distinct "name"`,
      );
    } else seen.set(m.name, i);
    const big = (m.batch_sizes ?? spec.mode.batch_sizes).find((b) => b > 1);
    if (big !== undefined && SINGLE_REQUEST_METHODS.includes(m.method)) {
      c.fail(
        `methods[${i}].method`,
        `${methodLabel(m.method)} edits one request at a time, but its batch sizes have ${big}; ` +
          'use batch size 1 (Instance-Sequential) or a batch method (memit, mend, ft-l, ft-m)',
      );
    }
  });
  const allSizes = spec.methods.flatMap((m) => m.batch_sizes ?? spec.mode.batch_sizes);
  if (spec.quirks.legacy_sequential_bug && (!spec.mode.sequential || allSizes.some((b) => b !== 1))) {
    c.fail(
      'quirks.legacy_sequential_bug',
      "the paper's broken edit() only ran its Instance-Sequential studies (sequential, batch size 1); " +
        'its batch runs went through batch_edit, which does not have the bug',
    );
  }
  const capacity = sliceCapacity(spec.data);
  if (capacity !== undefined) {
    const need = studyEditsNeeded(spec);
    if (capacity < need) {
      c.fail(
        'data.end',
        `the slice [${spec.data.begin}:${spec.data.end}:${spec.data.step}] holds ${capacity} edit(s) but the study needs ${need} ` +
          `(${spec.mode.sequential ? 'the largest checkpoint × the largest batch size' : 'the largest batch size'}); raise it or remove it`,
      );
    }
  }
}

/**
 * Validate a study (the parsed YAML/JSON) and fill in its defaults. Throws one Error listing every
 * problem, one line each: `<source>: field "mode.batch_sizes[1]": expected a positive integer, got -3`.
 * Shorthands: `model: <path>`, a method as its registry name (`- rome`), `rect: <keep>`,
 * `tasks.names: all` (the paper's eight), `tasks.names: world` (a world model's tasks).
 */
export function parseStudy(raw: unknown, source: string): StudySpec {
  const c = new Checker(source);
  const top = c.mapping(raw, '', FIELDS['']);
  if (!top) throw new Error(c.errors.join('\n'));

  const nameRaw = c.get(top, 'name', 'name', true);
  let name = nameRaw === undefined ? undefined : c.string(nameRaw, 'name');
  if (name !== undefined && !STUDY_NAME.test(name)) {
    name = c.fail('name', `${shown(name)} is not a file name: use letters, digits and . _ + - (starting with a letter or digit)`);
  }
  const modelRaw = c.get(top, 'model', 'model', true);
  const model = modelRaw === undefined ? undefined : parseModel(c, modelRaw);
  const methodsRaw = c.get(top, 'methods', 'methods', true);
  let methods: StudyMethod[] | undefined;
  if (methodsRaw !== undefined) {
    const items = c.list(methodsRaw, 'methods');
    if (items && items.length === 0) c.expected('methods', 'at least one method', methodsRaw);
    else if (items) {
      const parsed = items.map((m, i) => parseMethod(c, m, `methods[${i}]`));
      if (parsed.every((m) => m !== undefined)) methods = parsed as StudyMethod[];
    }
  }
  const modeRaw = c.get(top, 'mode', 'mode', true);
  const mode = modeRaw === undefined ? undefined : parseMode(c, modeRaw);
  const dataRaw = c.get(top, 'data', 'data', true);
  const data = dataRaw === undefined ? undefined : parseData(c, dataRaw);
  const tasks = parseTasks(c, c.get(top, 'tasks', 'tasks'));
  const metrics = parseMetrics(c, c.get(top, 'metrics', 'metrics'));
  const probes: StudyProbes | undefined = parseSwitches(c, c.get(top, 'probes', 'probes'), 'probes', FIELDS.probes);
  const seeds = parseSeeds(c, c.get(top, 'seeds', 'seeds'));
  const quirks: StudyQuirks | undefined = parseSwitches(c, c.get(top, 'quirks', 'quirks'), 'quirks', FIELDS.quirks);

  if (c.errors.length === 0 && name && model && methods && mode && data && tasks && metrics && probes && seeds && quirks) {
    const spec: StudySpec = { name, model, methods, mode, data, tasks, metrics, probes, seeds, quirks };
    crossCheck(c, spec);
    if (c.errors.length === 0) return spec;
  }
  throw new Error(c.errors.join('\n'));
}

/** Read and validate a study file (YAML, or JSON by its `.json` extension); errors name the file. */
export function readStudyFile(path: string): StudySpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  const json = path.toLowerCase().endsWith('.json');
  try {
    raw = json ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`${path}: not valid ${json ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  return parseStudy(raw, path);
}

/**
 * A study as a YAML study file with every field written out (defaults included), so it records
 * exactly what ran; `parseStudy(parse(studyToYaml(s)))` equals `s`. Lists of numbers and task
 * names are written on one line.
 */
export function studyToYaml(spec: StudySpec): string {
  const obj = {
    name: spec.name,
    model: { path: spec.model.path, dtype: spec.model.dtype },
    methods: spec.methods.map((m) => ({
      name: m.name,
      method: m.method,
      ...(m.hparams !== undefined ? { hparams: m.hparams } : {}),
      ...(m.preset !== undefined ? { preset: m.preset } : {}),
      ...(m.rect !== undefined ? { rect: { keep: m.rect.keep, mode: m.rect.mode } } : {}),
      ...(m.prune !== undefined ? { prune: { ...m.prune } } : {}),
      ...(m.batch_sizes !== undefined ? { batch_sizes: m.batch_sizes } : {}),
    })),
    mode: { sequential: spec.mode.sequential, batch_sizes: spec.mode.batch_sizes, checkpoints: spec.mode.checkpoints },
    data: {
      file: spec.data.file,
      begin: spec.data.begin,
      ...(spec.data.end !== undefined ? { end: spec.data.end } : {}),
      step: spec.data.step,
    },
    tasks: {
      names: spec.tasks.names,
      ...(spec.tasks.limit !== undefined ? { limit: spec.tasks.limit } : {}),
      scorer: spec.tasks.scorer,
      batch_size: spec.tasks.batch_size,
    },
    metrics: { enabled: spec.metrics.enabled, order: spec.metrics.order },
    probes: { unrelated_recall: spec.probes.unrelated_recall, perplexity: spec.probes.perplexity },
    seeds: { edit: spec.seeds.edit, tasks: spec.seeds.tasks },
    quirks: {
      legacy_sequential_bug: spec.quirks.legacy_sequential_bug,
      legacy_batch_chunking: spec.quirks.legacy_batch_chunking,
      drop_incomplete_chunk: spec.quirks.drop_incomplete_chunk,
    },
  };
  const doc = new Document(obj);
  visit(doc, {
    Seq(_, node) {
      if (node.items.every((x) => isScalar(x))) node.flow = true;
    },
  });
  doc.commentBefore = ' lmedit study (docs/studies.md)';
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
