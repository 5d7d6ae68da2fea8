/**
 * The paper's experiments as built-in studies, one per figure or table (evaluation.md §3.3), for
 * GPT-2 XL or LLaMA-1 7B at the paper's scale or a tiny one that runs in minutes; and the lookup
 * `lmedit study <file|preset>` uses (`resolveStudy`).
 */
import { existsSync, statSync } from 'node:fs';
import { TASK_NAMES, type TaskName } from '../eval/tasks/types.js';
import { closest, DEFAULT_RECT_KEEP, parseStudy, readStudyFile, variantName } from './spec.js';
import { WORLD_DATA, type RegulariserModeName, type StudySpec } from './types.js';

export type PresetScale = 'paper' | 'tiny';
export type PresetVariant = 'gpt2-xl' | 'llama-7b';
export const PRESET_SCALES: readonly PresetScale[] = ['paper', 'tiny'];
export const PRESET_VARIANTS: readonly PresetVariant[] = ['gpt2-xl', 'llama-7b'];

/** The model each variant edits (hub ids; `model` replaces it). */
export const PRESET_MODELS: Readonly<Record<PresetVariant, string>> = {
  'gpt2-xl': 'gpt2-xl',
  'llama-7b': 'huggyllama/llama-7b',
};

/** The paper's edit set (§3.2), relative to the data dir. */
export const EDIT_DATA_FILE = 'zsre/zsre_mend_eval_portability_gpt4.json';

/** Examples per task at the tiny scale. */
export const TINY_TASK_LIMIT = 3;

export interface PresetOptions {
  /** model directory or hub id instead of the variant's model; the preset's numbers stay */
  model?: string;
  /** 'paper' (default) or 'tiny': checkpoints 0/2/4, batch sizes ≤ 4, three examples per task */
  scale?: PresetScale;
  /** whose numbers (§3.3): 'gpt2-xl' (default) or 'llama-7b' (LLaMA-1) */
  variant?: PresetVariant;
  /**
   * an hparams file for every method of the study (they must all be one method). MEND needs one
   * that names a trained archive: its presets leave `hparams` unset and the runner refuses MEND
   * without an archive.
   */
  hparams?: string;
  /** add a regularised twin of every unregularised method (`--rect 0.4`: ROME vs ROME+RECT-40%) */
  rect?: { keep: number; mode: RegulariserModeName };
}

export interface StudyPreset {
  readonly id: string;
  /** one line: what the study measures */
  readonly title: string;
  /** which of the paper's figures or tables it reproduces */
  readonly figure: string;
  build(opts?: PresetOptions): StudySpec;
}

interface Shape {
  sequential: boolean;
  batch_sizes: number[];
  /** sequential only */
  checkpoints?: number[];
}

interface MethodEntry {
  method: string;
  rect?: { keep: number; mode: 'rect' | 'random' | 'pca' };
  /** PRUNE at readout (`true`: log base e) */
  prune?: true;
}

interface PresetDef {
  id: string;
  title: string;
  figure: string;
  methods: MethodEntry[];
  shapes: Record<PresetVariant, Shape> & { tiny: Shape };
  /** downstream tasks ([] = none) */
  tasks: readonly TaskName[];
  metrics: boolean;
}

const ALL_TASKS: readonly TaskName[] = TASK_NAMES;
/** The tasks of the RECT downstream figure (evaluation.md §5.5): Summ, ODQA, CDQA, SA. */
const RECT_TASKS: readonly TaskName[] = ['samsum', 'nq-open', 'boolq', 'sst2'];

/** Unregularised, RECT top-80/60/40/20 %, Random 40 %, PCA 40 % (the RECT figures' columns). */
function rectVariants(method: string): MethodEntry[] {
  return [
    { method },
    ...[0.8, 0.6, 0.4, 0.2].map((keep) => ({ method, rect: { keep, mode: 'rect' as const } })),
    { method, rect: { keep: 0.4, mode: 'random' } },
    { method, rect: { keep: 0.4, mode: 'pca' } },
  ];
}

const seq = (batch_sizes: number[], checkpoints: number[]): Shape => ({ sequential: true, batch_sizes, checkpoints });
const single = (batch_sizes: number[]): Shape => ({ sequential: false, batch_sizes });

const ROME_GPT2 = [0, 5, 10, 15, 20];
const ROME_LLAMA = [0, 2, 4, 6, 8, 10];
const TINY_SEQ = seq([1], [0, 2, 4]);

const DEFS: PresetDef[] = [
  {
    id: 'kn-instance-sequential',
    title: 'KN, Instance-Sequential: the eight tasks after 0-4 edits',
    figure: 'Instance-Sequential figure (KN)',
    methods: [{ method: 'kn' }],
    shapes: { 'gpt2-xl': seq([1], [0, 1, 2, 3, 4]), 'llama-7b': seq([1], [0, 1, 2, 3, 4]), tiny: TINY_SEQ },
    tasks: ALL_TASKS,
    metrics: true,
  },
  {
    id: 'rome-instance-sequential',
    title: 'ROME, Instance-Sequential: the eight tasks after 0-20 edits (LLaMA: 0-10)',
    figure: 'Instance-Sequential figure (ROME)',
    methods: [{ method: 'rome' }],
    shapes: { 'gpt2-xl': seq([1], ROME_GPT2), 'llama-7b': seq([1], ROME_LLAMA), tiny: TINY_SEQ },
    tasks: ALL_TASKS,
    metrics: true,
  },
  {
    id: 'mend-batch-single',
    title: 'MEND, Batch-Single: the eight tasks after one edit of B facts (needs a trained MEND archive)',
    figure: 'Batch-Single figure (MEND)',
    methods: [{ method: 'mend' }],
    shapes: { 'gpt2-xl': single([1, 5, 10]), 'llama-7b': single([5, 10, 15, 20]), tiny: single([1, 2, 4]) },
    tasks: ALL_TASKS,
    metrics: true,
  },
  {
    id: 'memit-batch-single',
    title: 'MEMIT, Batch-Single: the eight tasks after one edit of B facts',
    figure: 'Batch-Single figure (MEMIT)',
    methods: [{ method: 'memit' }],
    shapes: {
      'gpt2-xl': single([1, 10, 100, 1000, 2000, 3000]),
      'llama-7b': single([1, 5, 10]),
      tiny: single([1, 2, 4]),
    },
    tasks: ALL_TASKS,
    metrics: true,
  },
  {
    id: 'memit-batch-sequential',
    title: 'MEMIT, Batch-Sequential: the eight tasks after successive edits of B facts',
    figure: 'Batch-Sequential figures (MEMIT)',
    methods: [{ method: 'memit' }],
    shapes: {
      'gpt2-xl': seq([10, 30, 50], [0, 10, 20, 30, 40, 50]),
      'llama-7b': seq([2, 3, 4], [0, 2, 4]),
      tiny: seq([2], [0, 2, 4]),
    },
    tasks: ALL_TASKS,
    metrics: true,
  },
  {
    id: 'rect-downstream',
    title: 'RECT vs. Random and PCA: Summ/ODQA/CDQA/SA after ROME Instance-Sequential edits',
    figure: 'RECT general-task figure',
    methods: rectVariants('rome'),
    shapes: { 'gpt2-xl': seq([1], ROME_GPT2), 'llama-7b': seq([1], ROME_LLAMA), tiny: TINY_SEQ },
    tasks: RECT_TASKS,
    metrics: true,
  },
  {
    id: 'rect-editing',
    title: 'RECT vs. Random and PCA: reliability, generalization, locality of ROME and MEMIT edits',
    figure: 'RECT editing-performance figure',
    methods: [...rectVariants('rome'), ...rectVariants('memit')],
    shapes: { 'gpt2-xl': seq([1], ROME_GPT2), 'llama-7b': seq([1], ROME_LLAMA), tiny: TINY_SEQ },
    tasks: [],
    metrics: true,
  },
  {
    id: 'rivals',
    title:
      "RECT's rivals on the same edits: ROME, ROME+RECT, ROME+PRUNE, MEMIT, MEMIT+RECT, AlphaEdit, EMMET (Instance-Sequential)",
    figure: 'beyond the paper: the RECT figure with AlphaEdit, PRUNE and EMMET',
    methods: [
      { method: 'rome' },
      { method: 'rome', rect: { keep: 0.4, mode: 'rect' } },
      { method: 'rome', prune: true },
      { method: 'memit' },
      { method: 'memit', rect: { keep: 0.4, mode: 'rect' } },
      { method: 'alphaedit' },
      { method: 'emmet' },
    ],
    shapes: { 'gpt2-xl': seq([1], ROME_GPT2), 'llama-7b': seq([1], ROME_LLAMA), tiny: TINY_SEQ },
    tasks: RECT_TASKS,
    metrics: true,
  },
  {
    id: 'weight-change',
    title: 'How much ROME changes the weights: sum |dW|, share of large relative changes, |dW| maps',
    figure: 'weight-change statistics',
    methods: [{ method: 'rome' }],
    shapes: { 'gpt2-xl': seq([1], [1, 5, 10, 15]), 'llama-7b': seq([1], [1, 5, 10, 15]), tiny: seq([1], [1, 2, 4]) },
    tasks: [],
    metrics: false,
  },
];

function choice<V extends string>(v: V | undefined, what: string, choices: readonly V[], dflt: V): V {
  if (v === undefined) return dflt;
  if (!choices.includes(v)) throw new Error(`unknown ${what} "${String(v)}" (expected ${choices.join(' or ')})`);
  return v;
}

/** Set `hparams` on every method, which must all be one method. */
function withHParams(spec: StudySpec, hparams: string, source: string): StudySpec {
  const methods = [...new Set(spec.methods.map((m) => m.method))];
  if (methods.length > 1) {
    throw new Error(
      `${source}: one hparams file cannot serve ${methods.join(' and ')}; name each method's hparams in a study file`,
    );
  }
  return parseStudy(
    {
      ...spec,
      methods: spec.methods.map(({ preset: _preset, ...m }) => ({ ...m, hparams })),
    },
    source,
  );
}

/** Each method without a regulariser gets a twin with `rect`, right after it. */
function withRect(spec: StudySpec, rect: NonNullable<PresetOptions['rect']>, source: string): StudySpec {
  const methods = spec.methods.flatMap((m) => {
    if (m.rect) return [m];
    const twin = { ...m, name: variantName(m.method, rect), rect };
    return [m, twin];
  });
  return parseStudy({ ...spec, methods }, source);
}

function makePreset(def: PresetDef): StudyPreset {
  return {
    id: def.id,
    title: def.title,
    figure: def.figure,
    build(opts: PresetOptions = {}): StudySpec {
      const variant = choice(opts.variant, 'preset variant', PRESET_VARIANTS, 'gpt2-xl');
      const scale = choice(opts.scale, 'scale', PRESET_SCALES, 'paper');
      const shape = scale === 'tiny' ? def.shapes.tiny : def.shapes[variant];
      const tiny = scale === 'tiny';
      const name = `${def.id}${variant === 'gpt2-xl' ? '' : `-${variant}`}${tiny ? '-tiny' : ''}`;
      const source = `preset "${def.id}"`;
      const spec = parseStudy(
        {
          name,
          model: { path: opts.model ?? PRESET_MODELS[variant], dtype: 'float32' },
          methods: def.methods.map((m) => ({
            method: m.method,
            ...(m.rect ? { rect: { ...m.rect } } : {}),
            ...(m.prune ? { prune: m.prune } : {}),
          })),
          mode: {
            sequential: shape.sequential,
            batch_sizes: [...shape.batch_sizes],
            checkpoints: [...(shape.checkpoints ?? [])],
          },
          data: { file: EDIT_DATA_FILE, begin: 0, step: 1 },
          tasks: { names: [...def.tasks], ...(tiny && def.tasks.length > 0 ? { limit: TINY_TASK_LIMIT } : {}) },
          metrics: { enabled: def.metrics },
        },
        source,
      );
      return opts.hparams !== undefined ? withHParams(spec, opts.hparams, source) : spec;
    },
  };
}

/** What `lmedit demo` runs: the full demo and its `--quick` cut (the preset's `tiny` scale). */
export const DEMO = {
  full: { model: 'default', checkpoints: [0, 1, 2, 4, 8, 16, 32], memitBatch: 4, taskLimit: undefined },
  quick: { model: 'quick', checkpoints: [0, 2, 4], memitBatch: 2, taskLimit: 20 },
} as const;

/**
 * The paper in miniature on a world model (src/world): sequential ROME edits and MEMIT batches of
 * the world's facts, each with and without RECT (keep 40 %), measured at every checkpoint on the
 * world's seven tasks, the editing metrics, recall of unrelated facts and held-out perplexity.
 * Scale `tiny` is `lmedit demo --quick` (the quick world model, fewer checkpoints and examples).
 */
const DEMO_PRESET: StudyPreset = {
  id: 'demo',
  title: 'the paper in miniature on the built-in world model: ROME and MEMIT edits, with and without RECT-40%',
  figure: 'lmedit demo (Instance- and Batch-Sequential figures, RECT figure, on the model organism)',
  build(opts: PresetOptions = {}): StudySpec {
    const scale = choice(opts.scale, 'scale', PRESET_SCALES, 'paper');
    if (opts.variant !== undefined) throw new Error('preset "demo": there is no variant; it runs on a world model');
    const d = scale === 'tiny' ? DEMO.quick : DEMO.full;
    const rect = { keep: DEFAULT_RECT_KEEP, mode: 'rect' as const };
    const spec = parseStudy(
      {
        name: scale === 'tiny' ? 'demo-quick' : 'demo',
        model: { path: opts.model ?? d.model, dtype: 'float32' },
        methods: [
          { method: 'rome' },
          { method: 'rome', rect },
          { method: 'memit', batch_sizes: [d.memitBatch] },
          { method: 'memit', rect, batch_sizes: [d.memitBatch] },
        ],
        mode: { sequential: true, batch_sizes: [1], checkpoints: [...d.checkpoints] },
        data: { file: WORLD_DATA, begin: 0, step: 1 },
        tasks: { names: 'world', ...(d.taskLimit !== undefined ? { limit: d.taskLimit } : {}), batch_size: 32 },
        metrics: { enabled: true },
        probes: { unrelated_recall: true, perplexity: true },
      },
      'preset "demo"',
    );
    return opts.hparams !== undefined ? withHParams(spec, opts.hparams, 'preset "demo"') : spec;
  },
};

const PRESETS: readonly StudyPreset[] = [...DEFS.map(makePreset), DEMO_PRESET];

/** The built-in studies, in the paper's order (for `lmedit study presets`). */
export function listPresets(): readonly StudyPreset[] {
  return PRESETS;
}

/** A preset by id; the error lists them all. */
export function getPreset(id: string): StudyPreset {
  const p = PRESETS.find((x) => x.id === id);
  if (p) return p;
  const near = closest(
    id,
    PRESETS.map((x) => x.id),
  );
  throw new Error(
    `unknown preset "${id}"${near ? ` (did you mean "${near}"?)` : ''}; presets: ${PRESETS.map((x) => x.id).join(', ')}`,
  );
}

/**
 * The study behind `lmedit study <fileOrPreset>`: an existing file is read and validated
 * (`model` and `hparams` override it; `scale` and `variant` belong to presets and are refused),
 * anything else must be a preset id (built with `opts`). The error for neither lists the presets.
 */
export function resolveStudy(fileOrPreset: string, opts: PresetOptions = {}): StudySpec {
  if (existsSync(fileOrPreset)) {
    if (!statSync(fileOrPreset).isFile()) throw new Error(`${fileOrPreset}: is a directory, not a study file`);
    if (opts.scale !== undefined || opts.variant !== undefined) {
      throw new Error(`${fileOrPreset}: scale and variant choose a preset's numbers; a study file states its own`);
    }
    let spec = readStudyFile(fileOrPreset);
    if (opts.model !== undefined) spec = { ...spec, model: { ...spec.model, path: opts.model } };
    if (opts.hparams !== undefined) spec = withHParams(spec, opts.hparams, fileOrPreset);
    return opts.rect ? withRect(spec, opts.rect, fileOrPreset) : spec;
  }
  if (PRESETS.some((p) => p.id === fileOrPreset)) {
    const spec = getPreset(fileOrPreset).build(opts);
    return opts.rect ? withRect(spec, opts.rect, `preset ${fileOrPreset}`) : spec;
  }
  const ids = PRESETS.map((x) => x.id);
  const near = closest(fileOrPreset, ids);
  const looksLikeFile = /[/\\]|\.(ya?ml|json)$/i.test(fileOrPreset);
  throw new Error(
    `${looksLikeFile ? `no study file "${fileOrPreset}"` : `"${fileOrPreset}" is neither a study file nor a preset`}` +
      `${near ? ` (did you mean the preset "${near}"?)` : ''}; presets: ${ids.join(', ')}`,
  );
}
