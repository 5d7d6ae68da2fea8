/**
 * The paper's reference numbers (Gu et al., EMNLP 2024, "Model Editing Harms General Abilities of
 * Large Language Models: Regularization to the Rescue"), as data: spec/evaluation.md §5, read off
 * the figures on the paper's project page (bars about ±0.005, line markers about ±0.01–0.02).
 * Downstream values are paper-mode scores. Reports draw them beside a run's own numbers when the
 * run's model is one the paper used (GPT-2 XL or LLaMA-1 7B) and the method, setting, variant and
 * scorer mode match.
 */
import type { TaskName } from '../eval/tasks/types.js';
import type { RegulariserModeName } from '../study/types.js';

/** The models of the paper's figures (no LLaMA-2 values were published). */
export type PaperModel = 'gpt2-xl' | 'llama-7b';

export const PAPER_MODEL_LABELS: Record<PaperModel, string> = { 'gpt2-xl': 'GPT-2 XL', 'llama-7b': 'LLaMA-1 7B' };

/** Unregularised, RECT top-k %, or the two 40 % baselines of the RECT figures. */
export type PaperVariant = 'unreg' | 'top-80' | 'top-60' | 'top-40' | 'top-20' | 'random-40' | 'pca-40';

export const PAPER_VARIANT_LABELS: Record<PaperVariant, string> = {
  unreg: 'Unreg',
  'top-80': 'top-80%',
  'top-60': 'top-60%',
  'top-40': 'top-40%',
  'top-20': 'top-20%',
  'random-40': 'Random 40%',
  'pca-40': 'PCA 40%',
};

/** Instance-Sequential (x = edits) or Batch-Single (x = batch size). */
export type PaperSetting = 'sequential' | 'single';

/** One downstream value of a figure. */
export interface PaperTaskValue {
  model: PaperModel;
  /** registry name: rome, memit, kn, mend */
  method: string;
  setting: PaperSetting;
  variant: PaperVariant;
  /** edits (sequential) or batch size (single) */
  x: number;
  task: TaskName;
  value: number;
  /** "~0" in the spec, or a value stated only in words */
  approx?: boolean;
  /** the spec section it comes from */
  source: string;
}

/** One editing-performance value (token accuracy). */
export interface PaperMetricValue {
  model: PaperModel;
  method: string;
  variant: PaperVariant;
  /** MetricSet.means name: rewrite_acc (Rel), rephrase_acc (Gen), locality_acc (Loc) */
  metric: 'rewrite_acc' | 'rephrase_acc' | 'locality_acc';
  value: number;
  source: string;
}

/** One weight-change figure after x sequential edits (fractions, not percentages). */
export interface PaperWeightValue {
  model: PaperModel;
  method: string;
  variant: PaperVariant;
  x: number;
  name: 'manhattan' | 'above_0.077' | 'above_0.171';
  value: number;
  source: string;
}

/** The paper's task order: Reas, NLI, ODQA, CDQA, Dial, Summ, NER, SA. */
export const PAPER_TASK_ORDER: readonly TaskName[] = [
  'gsm8k',
  'rte',
  'nq-open',
  'boolq',
  'mutual',
  'samsum',
  'conll2003',
  'sst2',
];

export const TASK_ABBREVIATIONS: Record<TaskName, string> = {
  gsm8k: 'Reas',
  rte: 'NLI',
  'nq-open': 'ODQA',
  boolq: 'CDQA',
  mutual: 'Dial',
  samsum: 'Summ',
  conll2003: 'NER',
  sst2: 'SA',
};

/** `~0` in the spec: a bar absent or indistinguishable from zero. */
const Z = null;
type Row = readonly (number | null)[];

function rowsOf(
  base: Omit<PaperTaskValue, 'x' | 'task' | 'value' | 'approx'>,
  rows: readonly (readonly [number, Row])[],
  tasks: readonly TaskName[] = PAPER_TASK_ORDER,
): PaperTaskValue[] {
  return rows.flatMap(([x, row]) =>
    row.map((v, i) => ({ ...base, x, task: tasks[i]!, value: v ?? 0, ...(v === null ? { approx: true } : {}) })),
  );
}

/** §5.1: the unedited models. */
export const PAPER_BASELINES: Record<PaperModel, Record<TaskName, number>> = {
  'gpt2-xl': { gsm8k: 0.33, rte: 0.52, 'nq-open': 0.197, boolq: 0.52, mutual: 0.2, samsum: 0.125, conll2003: 0.434, sst2: 0.556 },
  'llama-7b': {
    gsm8k: 0.92,
    rte: 0.555,
    'nq-open': 0.278,
    boolq: 0.715,
    mutual: 0.288,
    samsum: 0.156,
    conll2003: 0.3,
    sst2: 0.587,
  },
};

const S52 = '§5.2 ROME Instance-Sequential';
const S53 = '§5.3 Batch-Single';
const S54 = '§5.4 RECT editing performance';
const S55 = '§5.5 RECT downstream (ROME Instance-Sequential)';
const S56 = '§5.6 weight change (ROME, GPT-2 XL)';
const SKN = '§5.2 KN Instance-Sequential (stated in words)';

const rome52 = (model: PaperModel, rows: readonly (readonly [number, Row])[]): PaperTaskValue[] =>
  rowsOf({ model, method: 'rome', setting: 'sequential', variant: 'unreg', source: S52 }, rows);

const single53 = (model: PaperModel, method: string, rows: readonly (readonly [number, Row])[]): PaperTaskValue[] =>
  rowsOf({ model, method, setting: 'single', variant: 'unreg', source: S53 }, rows);

/** §5.5: Summ, ODQA, CDQA, SA after 5/10/15/20 edits per variant (base at 0 edits given once). */
const RECT_TASKS: readonly TaskName[] = ['samsum', 'nq-open', 'boolq', 'sst2'];
const RECT_BASE: Row = [0.125, 0.198, 0.52, 0.557];
const RECT_55: Record<PaperVariant, readonly [Row, Row, Row, Row]> = {
  // per task (Summ, ODQA, CDQA, SA): the values at 5 / 10 / 15 / 20 edits
  unreg: [
    [0.111, 0.075, 0.069, 0.058],
    [0.204, 0.189, 0.103, 0.007],
    [0.535, 0.495, 0.456, 0.437],
    [0.312, 0.019, 0.0, 0.0],
  ],
  'top-80': [
    [0.12, 0.088, 0.076, 0.048],
    [0.198, 0.258, 0.085, 0.073],
    [0.545, 0.49, 0.488, 0.289],
    [0.284, 0.116, 0.018, 0.0],
  ],
  'top-60': [
    [0.122, 0.093, 0.08, 0.055],
    [0.208, 0.207, 0.149, 0.09],
    [0.562, 0.49, 0.478, 0.325],
    [0.292, 0.205, 0.015, 0.0],
  ],
  'top-40': [
    [0.119, 0.117, 0.094, 0.081],
    [0.208, 0.226, 0.177, 0.181],
    [0.527, 0.448, 0.394, 0.445],
    [0.35, 0.253, 0.213, 0.191],
  ],
  'top-20': [
    [0.129, 0.127, 0.123, 0.121],
    [0.208, 0.231, 0.229, 0.204],
    [0.528, 0.53, 0.537, 0.57],
    [0.4, 0.441, 0.406, 0.473],
  ],
  'random-40': [
    [0.134, 0.128, 0.107, 0.11],
    [0.205, 0.206, 0.229, 0.214],
    [0.515, 0.542, 0.51, 0.578],
    [0.403, 0.415, 0.43, 0.408],
  ],
  'pca-40': [
    [0.125, 0.119, 0.108, 0.085],
    [0.191, 0.165, 0.138, 0.028],
    [0.493, 0.484, 0.46, 0.388],
    [0.36, 0.265, 0.087, 0.001],
  ],
};

function rect55(): PaperTaskValue[] {
  return (Object.keys(RECT_55) as PaperVariant[]).flatMap((variant) => {
    const perTask = RECT_55[variant];
    const rows: [number, Row][] = [[0, RECT_BASE]];
    [5, 10, 15, 20].forEach((x, j) => rows.push([x, perTask.map((t) => t[j]!)]));
    return rowsOf({ model: 'gpt2-xl', method: 'rome', setting: 'sequential', variant, source: S55 }, rows, RECT_TASKS);
  });
}

function knZeros(model: PaperModel): PaperTaskValue[] {
  const zero: Row = PAPER_TASK_ORDER.map(() => null);
  return rowsOf({ model, method: 'kn', setting: 'sequential', variant: 'unreg', source: SKN }, [
    [1, zero],
    [2, zero],
    [3, zero],
    [4, zero],
  ]);
}

/**
 * Every downstream value, in lookup order: a (model, method, setting, variant) key takes the rows
 * of the first source that has it — so the unregularised ROME GPT-2 XL line is §5.2 (all eight
 * tasks), and §5.5's own Unreg column (a separate run of four tasks) is kept as data only.
 */
export const PAPER_DOWNSTREAM: readonly PaperTaskValue[] = [
  ...rome52('gpt2-xl', [
    [0, [0.33, 0.52, 0.19, 0.52, 0.2, 0.125, 0.433, 0.557]],
    [5, [0.39, 0.524, 0.195, 0.547, 0.21, 0.113, 0.403, 0.563]],
    [10, [0.371, 0.505, 0.151, 0.581, 0.235, 0.085, 0.344, 0.353]],
    [15, [0.363, 0.487, 0.115, 0.571, 0.168, 0.069, 0.261, 0.33]],
    [20, [0.102, 0.401, 0.007, 0.48, 0.07, 0.045, 0.18, 0.018]],
  ]),
  ...rome52('llama-7b', [
    [0, [0.925, 0.555, 0.277, 0.715, 0.29, 0.157, 0.304, 0.588]],
    [2, [0.932, 0.54, 0.289, 0.716, 0.289, 0.163, 0.335, 0.597]],
    [4, [0.904, 0.517, 0.29, 0.686, 0.263, 0.166, 0.285, 0.471]],
    [6, [0.771, 0.353, 0.267, 0.626, 0.212, 0.161, 0.264, 0.142]],
    [8, [0.586, 0.479, 0.195, 0.59, 0.24, 0.104, 0.188, 0.002]],
    [10, [0.591, 0.277, 0.159, 0.47, 0.189, 0.097, 0.116, 0.004]],
  ]),
  ...rect55(),
  ...knZeros('gpt2-xl'),
  ...knZeros('llama-7b'),
  ...single53('gpt2-xl', 'memit', [
    [100, [0.363, 0.52, 0.201, 0.512, 0.194, 0.125, 0.424, 0.556]],
    [1000, [0.551, 0.463, 0.064, 0.5, 0.199, 0.105, 0.23, 0.5]],
    [2000, [0.221, 0.25, 0.007, 0.27, 0.167, 0.071, 0.096, 0.223]],
    [3000, [Z, Z, Z, Z, Z, Z, 0.007, Z]],
  ]),
  ...single53('llama-7b', 'memit', [[5, [Z, 0.023, 0.011, 0.211, 0.117, 0.033, 0.011, Z]]]),
  ...single53('gpt2-xl', 'mend', [
    [5, [0.218, 0.509, 0.158, 0.481, 0.118, 0.118, 0.26, 0.372]],
    [10, [0.005, 0.103, Z, 0.014, 0.008, 0.016, 0.021, 0.006]],
  ]),
  ...single53('llama-7b', 'mend', [[10, [0.922, 0.08, 0.171, 0.518, 0.183, 0.055, 0.089, 0.559]]]),
];

const EDIT_VARIANTS: readonly PaperVariant[] = ['unreg', 'top-80', 'top-60', 'top-40', 'top-20', 'random-40', 'pca-40'];

function editing(model: PaperModel, method: string, rel: Row, gen: Row, loc: Row): PaperMetricValue[] {
  const out: PaperMetricValue[] = [];
  const metrics = [
    ['rewrite_acc', rel],
    ['rephrase_acc', gen],
    ['locality_acc', loc],
  ] as const;
  for (const [metric, row] of metrics)
    EDIT_VARIANTS.forEach((variant, i) => out.push({ model, method, variant, metric, value: row[i]!, source: S54 }));
  return out;
}

/** §5.4: Rel / Gen / Loc per variant. */
export const PAPER_EDITING: readonly PaperMetricValue[] = [
  ...editing(
    'gpt2-xl',
    'rome',
    [1.0, 1.0, 0.998, 1.0, 0.932, 0.334, 0.277],
    [0.897, 0.88, 0.89, 0.842, 0.774, 0.304, 0.277],
    [0.937, 0.95, 0.95, 0.953, 0.97, 0.975, 0.985],
  ),
  ...editing(
    'llama-7b',
    'rome',
    [0.981, 0.963, 0.963, 0.961, 0.953, 0.755, 0.374],
    [0.936, 0.926, 0.901, 0.916, 0.883, 0.68, 0.357],
    [0.948, 0.971, 0.958, 0.971, 0.976, 0.981, 0.971],
  ),
  ...editing(
    'gpt2-xl',
    'memit',
    [0.706, 0.714, 0.689, 0.669, 0.548, 0.272, 0.229],
    [0.515, 0.543, 0.513, 0.51, 0.422, 0.254, 0.209],
    [0.945, 0.955, 0.958, 0.963, 0.96, 0.968, 0.978],
  ),
  ...editing(
    'llama-7b',
    'memit',
    [0.873, 0.85, 0.873, 0.895, 0.933, 0.815, 0.371],
    [0.838, 0.825, 0.835, 0.875, 0.9, 0.758, 0.366],
    [0.953, 0.963, 0.968, 0.965, 0.958, 0.975, 0.98],
  ),
];

/** §5.6: cumulative change after 1/5/10/15 edits (the spec's percentages as fractions). */
export const PAPER_WEIGHTS: readonly PaperWeightValue[] = (
  [
    [1, 9079.2, 20.0, 10.0],
    [5, 27072.2, 49.2, 28.9],
    [10, 52245.3, 67.4, 46.2],
    [15, 63247.5, 72.8, 52.2],
  ] as const
).flatMap(([x, manhattan, a077, a171]) => {
  const base = { model: 'gpt2-xl', method: 'rome', variant: 'unreg', x, source: S56 } as const;
  return [
    { ...base, name: 'manhattan', value: manhattan },
    { ...base, name: 'above_0.077', value: a077 / 100 },
    { ...base, name: 'above_0.171', value: a171 / 100 },
  ] satisfies PaperWeightValue[];
});

/**
 * The paper model a model path or hub id names: GPT-2 XL (`gpt2-xl`, `openai-community/gpt2-xl`,
 * `models--openai-community--gpt2-xl/snapshots/…`) or LLaMA-1 7B (`huggyllama/llama-7b`,
 * `decapoda-research/llama-7b-hf`, `llama-1-7b`); null for
 * anything else (LLaMA-2/3, Code Llama, OpenLLaMA and other models the paper did not use).
 */
export function paperModelOf(path: string): PaperModel | null {
  const s = path.toLowerCase().replace(/\\/g, '/').replace(/\/+$/, '');
  if (/(^|[^a-z0-9])gpt-?2[-_]?xl($|[^a-z0-9])/.test(s)) return 'gpt2-xl';
  if (/open[-_]?llama|code[-_]?llama|llama[-_]?[23]|vicuna|alpaca/.test(s)) return null;
  if (/(^|[^a-z0-9])llama[-_]?(1[-_]?)?7b($|[^a-z0-9])/.test(s)) return 'llama-7b';
  return null;
}

/** The paper variant a study variant's regularisation corresponds to; null when the paper has no such variant. */
export function paperVariantOf(rect: { keep: number; mode: RegulariserModeName } | undefined | null): PaperVariant | null {
  if (!rect) return 'unreg';
  const pct = Math.round(rect.keep * 100);
  if (Math.abs(rect.keep * 100 - pct) > 1e-6) return null;
  if (rect.mode === 'rect') return pct === 80 || pct === 60 || pct === 40 || pct === 20 ? (`top-${pct}` as PaperVariant) : null;
  if (pct !== 40) return null;
  return rect.mode === 'random' ? 'random-40' : 'pca-40';
}

export interface PaperKey {
  model: PaperModel;
  method: string;
  setting: PaperSetting;
  variant: PaperVariant;
}

/**
 * The downstream values for a key (the first source that has it), in x then task order;
 * Batch-Single figures start from the unedited model (§5.1) at x = 0.
 */
export function paperDownstream(k: PaperKey): PaperTaskValue[] {
  const hits = PAPER_DOWNSTREAM.filter(
    (v) => v.model === k.model && v.method === k.method && v.setting === k.setting && v.variant === k.variant,
  );
  const first = hits[0]?.source;
  const rows = hits.filter((v) => v.source === first);
  if (k.setting !== 'single' || rows.length === 0) return rows;
  const base = PAPER_BASELINES[k.model];
  const zero = PAPER_TASK_ORDER.map((task) => ({ ...rows[0]!, x: 0, task, value: base[task], source: '§5.1 unedited' }));
  return [...zero.map(({ approx: _a, ...v }) => v), ...rows];
}

export function paperEditing(k: Omit<PaperKey, 'setting'>): PaperMetricValue[] {
  return PAPER_EDITING.filter((v) => v.model === k.model && v.method === k.method && v.variant === k.variant);
}

export function paperWeights(k: PaperKey): PaperWeightValue[] {
  if (k.setting !== 'sequential') return [];
  return PAPER_WEIGHTS.filter((v) => v.model === k.model && v.method === k.method && v.variant === k.variant);
}

export const PAPER_CITATION =
  'Gu et al., EMNLP 2024, "Model Editing Harms General Abilities of Large Language Models: Regularization to the Rescue"';
