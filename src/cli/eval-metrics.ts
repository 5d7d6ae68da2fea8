/**
 * `lmedit eval metrics`: the editing metrics of docs/evaluation.md on ZsRE / CounterFact /
 * EasyEdit records — pre only, pre against an already edited model (`--edited DIR`), or pre and
 * post around edits made here (`--method`) under an evaluation order (docs/evaluation.md, "Pre,
 * post and evaluation orders").
 */
import { MODEL_HELP } from './models.js';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadModel, openModel } from '../models/index.js';
import { getMethod, METHOD_NAMES } from '../edit/registry.js';
import type { World } from '../world/index.js';
import type { EditContext, EditRequest } from '../edit/types.js';
import { createStatsProvider } from '../edit/stats/index.js';
import {
  EVAL_ORDERS,
  evaluateEditedModel,
  evaluateEdits,
  evaluateUnedited,
  type EditingEvaluation,
  type EvalOrder,
  type MetricOptions,
  type MetricSet,
} from '../eval/editing/index.js';
import { resolveHParams } from '../edit/registry.js';
import { requestsOfData, resolveModel, statsCorpus, worldOf } from './default-model.js';
import { choiceOption, intOption } from './options.js';

interface MetricsFlags {
  model?: string;
  tokenizer?: string;
  data?: string;
  limit?: number;
  offset: number;
  edited?: string;
  method?: string;
  preset?: string;
  hparams?: string;
  order: EvalOrder;
  fluency?: boolean;
  exactMatch?: boolean;
  counterfact: boolean;
  batchSize: number;
  evalBatchSize: number;
  seed: number;
  stats?: string;
  json?: boolean;
  out?: string;
}

/** Validated settings of one run. */
interface Settings {
  data: string;
  limit: number | undefined;
  offset: number;
  order: EvalOrder;
  batchSize: number;
  seed: number;
  metrics: MetricOptions;
}

function validate(o: MetricsFlags): Settings {
  if (!o.data) throw new Error("--data is required: a records file (ZsRE, CounterFact or EasyEdit) or 'world' for a world model");
  if (o.edited && o.method)
    throw new Error('give either --edited DIR (an already edited model) or --method (edit here), not both');
  if (!o.method && (o.preset || o.hparams)) throw new Error(`${o.preset ? '--preset' : '--hparams'} needs --method`);
  if (o.preset && o.hparams) throw new Error('give either --preset or --hparams, not both');
  return {
    data: o.data,
    limit: o.limit,
    offset: o.offset,
    order: o.order,
    batchSize: o.batchSize,
    seed: o.seed,
    metrics: {
      batchSize: o.evalBatchSize,
      fluency: o.fluency === true,
      exactMatch: o.exactMatch === true,
      counterfact: o.counterfact,
      seed: o.seed,
    },
  };
}

function readRequests(s: Settings, world: World | null): EditRequest[] {
  const all = requestsOfData(s.data, world);
  if (s.offset >= all.length) throw new Error(`--offset ${s.offset}: ${s.data} has ${all.length} record(s)`);
  return all.slice(s.offset, s.limit !== undefined ? s.offset + s.limit : undefined);
}

export function registerMetricsCommand(evalCmd: Command): void {
  evalCmd
    .command('metrics')
    .description(
      'editing metrics (reliability, generalization, locality, portability, fluency, CounterFact) before and after edits',
    )
    .option('--model <dir|hub-id>', MODEL_HELP)
    .option('--tokenizer <path>', 'tokenizer file or folder')
    .option('--data <file.json>', "ZsRE / CounterFact / EasyEdit records, or 'world': a world model's own facts (required)")
    .option('--limit <n>', 'evaluate the first n records (after --offset)', intOption('--limit', 1))
    .option('--offset <k>', 'skip this many records first', intOption('--offset', 0), 0)
    .option('--edited <dir>', 'an already edited model (same tokenizer): post metrics on it, no editing')
    .option('--method <name>', `edit here with: ${METHOD_NAMES.join(' | ')}`)
    .option('--preset <name>', 'hyperparameter preset of --method (default: the one for the model)')
    .option('--hparams <file.yaml>', 'hyperparameter file of --method')
    .option(
      '--order <order>',
      `evaluation order with --method: ${EVAL_ORDERS.join(' | ')}`,
      choiceOption('--order', EVAL_ORDERS),
      'post-each',
    )
    .option('--batch-size <n>', 'requests per edit (batch editing: MEMIT, FT, MEND)', intOption('--batch-size', 1), 1)
    .option('--eval-batch-size <n>', 'sequences per forward pass of the metrics', intOption('--eval-batch-size', 1), 16)
    .option('--fluency', 'sample 100 tokens from each edit prompt and score n-gram entropy')
    .option('--exact-match', 'also greedy-generation exact match of the rewrite and rephrase answers')
    .option('--no-counterfact', 'skip the CounterFact probability metrics (ES/PS/NS, EM/PM/NM, S)')
    .option('--seed <n>', 'seed of context templates, random baselines and the fluency sampler', intOption('--seed', 0), 0)
    .option('--stats <file|dir>', 'layer statistics for methods that need them (default: computed from WikiText-2)')
    .option('--json', 'print one JSON object (means and metadata) instead of a table')
    .option('--out <file.jsonl>', 'write one JSON line per record and phase (pre/post)')
    .action(async (o: MetricsFlags) => runMetrics(o));
}

async function runMetrics(o: MetricsFlags): Promise<void> {
  const s = validate(o);
  const modelDir = await resolveModel(o.model);
  const requests = readRequests(s, await worldOf(modelDir));
  const log = (m: string): void => {
    if (!o.json) console.error(m);
  };
  const { model, tokenizer, dir } = await openModel(modelDir, o.tokenizer ? { tokenizer: o.tokenizer } : {});
  let ev: EditingEvaluation;
  try {
    if (o.edited) {
      const edited = loadModel(o.edited);
      try {
        if (edited.config.vocabSize !== model.config.vocabSize) {
          throw new Error(
            `--edited ${o.edited}: vocabulary ${edited.config.vocabSize} differs from the model's ${model.config.vocabSize}`,
          );
        }
        log(`pre on ${dir}, post on ${o.edited}, ${requests.length} request(s)`);
        ev = evaluateEditedModel(model, edited, tokenizer, requests, { ...s.metrics, method: null, batchSize: s.batchSize });
      } finally {
        edited.dispose();
      }
    } else if (o.method) {
      const method = await getMethod(o.method);
      const world = await worldOf(dir);
      const { hp, source } = resolveHParams(method, model, { ...o, world: world !== null });
      const corpus = statsCorpus(world);
      const hpRecord = hp as Record<string, unknown>;
      const stats = createStatsProvider({
        tokenizer,
        modelId: dir,
        ...(o.stats ? { statsPath: o.stats } : {}),
        ...(corpus ? { corpus } : {}),
        ...(typeof hpRecord['mom2_max_tokens'] === 'number' ? { maxTokens: hpRecord['mom2_max_tokens'] } : {}),
        progress: !o.json,
      });
      const ctx: EditContext = { tokenizer, seed: s.seed, stats, log };
      log(`${method.name} on ${dir} (${source}), ${requests.length} request(s), order ${s.order}, batch size ${s.batchSize}`);
      try {
        ev = evaluateEdits(model, method, requests, hp, ctx, { order: s.order, batchSize: s.batchSize, metrics: s.metrics, log });
      } finally {
        stats.dispose();
      }
    } else {
      log(`pre metrics only (no --method or --edited) on ${dir}, ${requests.length} request(s)`);
      ev = evaluateUnedited(model, tokenizer, requests, s.metrics);
    }
  } finally {
    model.dispose();
  }
  if (o.out) writeRecords(o.out, ev);
  const head = { model: dir, data: s.data, offset: s.offset, ...(o.edited ? { edited: o.edited } : {}) };
  if (o.json) console.log(JSON.stringify({ ...head, ...withoutRecords(ev) }));
  else console.log(formatSummary(ev, head.model));
  if (o.out) log(`wrote per-record metrics to ${o.out}`);
}

function withoutRecords(
  ev: EditingEvaluation,
): Omit<EditingEvaluation, 'pre' | 'post'> & { pre: Omit<MetricSet, 'records'>; post: Omit<MetricSet, 'records'> | null } {
  const strip = ({ records: _, ...rest }: MetricSet) => rest;
  return { ...ev, pre: strip(ev.pre), post: ev.post ? strip(ev.post) : null };
}

/** One JSON line per record and phase, each carrying the protocol metadata. */
function writeRecords(path: string, ev: EditingEvaluation): void {
  const meta = {
    method: ev.method,
    evalOrder: ev.evalOrder,
    batchSize: ev.batchSize,
    numEdits: ev.numEdits,
    metricsVersion: ev.metricsVersion,
  };
  const lines = [
    ...ev.pre.records.map((r) => JSON.stringify({ phase: 'pre', ...meta, ...r })),
    ...(ev.post?.records ?? []).map((r) => JSON.stringify({ phase: 'post', ...meta, ...r })),
  ];
  writeFileSync(path, lines.join('\n') + '\n');
}

const ROWS: [string, string][] = [
  ['rewrite_acc', 'reliability'],
  ['rephrase_acc', 'generalization'],
  ['locality_acc', 'locality'],
  ['portability_acc', 'portability'],
  ['rewrite_exact', 'exact match (rewrite)'],
  ['rephrase_exact', 'exact match (rephrase)'],
  ['ngram_entropy', 'fluency (n-gram entropy)'],
];

/** The summary table: one row per metric, pre and post columns. */
export function formatSummary(ev: EditingEvaluation, model: string): string {
  const fmt = (x: number | null | undefined): string => (typeof x === 'number' ? x.toFixed(4) : '-');
  const what =
    ev.evalOrder === 'pre-only'
      ? 'pre metrics only'
      : ev.evalOrder === 'edited-model'
        ? 'pre vs an edited model'
        : `${ev.method}, order ${ev.evalOrder}, batch size ${ev.batchSize}, ${ev.numEdits} edit(s)`;
  const lines = [
    `editing metrics on ${model}: ${what}, ${ev.numRequests} request(s)`,
    `${'metric'.padEnd(26)}${'pre'.padStart(10)}${'post'.padStart(10)}`,
  ];
  for (const [key, label] of ROWS) {
    const pre = ev.pre.means[key];
    const post = ev.post?.means[key];
    if (pre === undefined && post === undefined) continue;
    lines.push(`${label.padEnd(26)}${fmt(pre).padStart(10)}${fmt(post).padStart(10)}`);
  }
  const cfPre = ev.pre.counterfact;
  const cfPost = ev.post?.counterfact;
  if (cfPre || cfPost) {
    for (const k of ['ES', 'PS', 'NS', 'EM', 'PM', 'NM', 'S'] as const) {
      lines.push(`${`CounterFact ${k}`.padEnd(26)}${fmt(cfPre?.[k]).padStart(10)}${fmt(cfPost?.[k]).padStart(10)}`);
    }
  }
  lines.push(
    `time: pre ${ev.seconds.pre.toFixed(1)} s, edits ${ev.seconds.edit.toFixed(1)} s, post ${ev.seconds.post.toFixed(1)} s`,
  );
  return lines.join('\n');
}
