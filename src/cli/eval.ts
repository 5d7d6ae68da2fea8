/**
 * `lmedit eval` (the paper's eight downstream tasks on a model, plus WikiText-2 perplexity), with
 * subcommands `eval metrics` (editing metrics) and `eval rescore` (re-score saved generations
 * without a model).
 */
import { MODEL_HELP } from './models.js';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { openModel, type WeightDTypeOption } from '../models/index.js';
import { ProgressLine } from '../util/progress.js';
import { dataDir, readDataFile } from '../eval/data.js';
import { CONTEXT_POLICIES, type ContextPolicy } from '../eval/generation.js';
import { perplexity, type PerplexityResult } from '../eval/perplexity.js';
import { taskFileFromHub, taskFileFromParquet } from '../eval/hub-data.js';
import { evaluateTasks, type ScorerChoice, type TaskEvalOptions, type TaskResult } from '../eval/run.js';
import { getTask, parseTaskList } from '../eval/tasks/index.js';
import type { ScriptVariant, Task, TaskName } from '../eval/tasks/types.js';
import { registerMetricsCommand } from './eval-metrics.js';
import { registerRescoreCommand } from './eval-rescore.js';
import { resolveModel, worldOf } from './default-model.js';
import { WORLD_TASK_NAMES, heldOutText, worldEvalInputs, type WorldTaskName } from '../world/index.js';
import { choiceOption, intOption } from './options.js';

interface EvalFlags {
  model?: string;
  tokenizer?: string;
  dtype: WeightDTypeOption;
  tasks: string;
  limit?: number;
  seed: number;
  scorer: ScorerChoice;
  script: ScriptVariant;
  batchSize: number;
  contextPolicy: ContextPolicy;
  out?: string;
  perplexity?: boolean;
  pplTokens: number;
  json?: boolean;
  progress: boolean;
  data: string[];
  dataSource: 'shared' | 'hub';
}

/** `--data TASK=FILE` (the paper's format, or .parquet) and `--data-source hub` into task data. */
async function resolveTaskData(
  tasks: readonly Task[],
  o: EvalFlags,
): Promise<Pick<TaskEvalOptions, 'dataFiles' | 'dataContent'>> {
  const dataFiles: Partial<Record<TaskName, string>> = {};
  const dataContent: Partial<Record<TaskName, { content: string; source: string }>> = {};
  for (const spec of o.data) {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new Error(`--data ${spec}: expected TASK=FILE`);
    const task = getTask(spec.slice(0, eq)).name;
    const file = spec.slice(eq + 1);
    if (!existsSync(file)) throw new Error(`--data ${spec}: ${file} not found`);
    if (file.endsWith('.parquet')) dataContent[task] = { content: await taskFileFromParquet(task, file), source: file };
    else dataFiles[task] = file;
  }
  if (o.dataSource === 'hub') {
    for (const t of tasks) {
      if (dataFiles[t.name] || dataContent[t.name]) continue;
      const { content, source, differences } = await taskFileFromHub(t.name);
      console.error(`lmedit: ${t.name} from ${source} (differs from the paper's file: ${differences})`);
      dataContent[t.name] = { content, source };
    }
  }
  return { dataFiles, dataContent };
}

const fmt = (x: number | null): string => (x === null || Number.isNaN(x) ? '—' : x.toFixed(4));

/** The summary table: one row per task, a column per mode. */
export function formatSummary(results: readonly TaskResult[], ppl: PerplexityResult | null, pplText = 'WikiText-2'): string {
  const tasks = [...new Set(results.map((r) => r.task))];
  const limited = results.some((r) => r.limit !== null);
  const head = ['task', 'examples', 'paper', ...(limited ? ['paper (subset)'] : []), 'clean', 'crashes', 'truncated', 'tokens/s'];
  const rows = tasks.map((t) => {
    const paper = results.find((r) => r.task === t && r.mode === 'paper');
    const clean = results.find((r) => r.task === t && r.mode === 'clean');
    const any = (paper ?? clean)!;
    return [
      t,
      String(any.examples),
      paper ? (paper.values['exception'] ? 'raises' : fmt(paper.primary)) : '',
      ...(limited ? [paper ? (paper.values['exception'] ? 'raises' : fmt(paper.primaryOnSubset)) : ''] : []),
      clean ? fmt(clean.primary) : '',
      String(paper?.crashes ?? 0),
      String(any.truncatedPrompts + any.skippedPrompts),
      any.seconds > 0 ? (any.generatedTokens / any.seconds).toFixed(1) : '',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  if (limited)
    out.push(
      '',
      "paper: the script's value with its hard-coded denominator (1319, 2489, ...); paper (subset): the same count over the examples scored.",
    );
  for (const r of results) {
    if (r.values['exception'])
      out.push(
        `${r.task}: the paper's script raises ${String(r.values['exception'])} on these generations (reported as such, not as a number)`,
      );
  }
  if (ppl) out.push('', `${pplText} perplexity ${ppl.perplexity.toFixed(3)} (${ppl.tokens} tokens, window ${ppl.window})`);
  return out.join('\n');
}

/** A world model's tasks named by --tasks (all, world, or a list of its task names), or null for the paper's. */
function worldTaskList(spec: string): WorldTaskName[] | null {
  if (spec === 'all' || spec === 'world') return [...WORLD_TASK_NAMES];
  const names = spec.split(',').map((s) => s.trim());
  return names.every((n) => (WORLD_TASK_NAMES as readonly string[]).includes(n)) ? (names as WorldTaskName[]) : null;
}

async function runEval(o: EvalFlags): Promise<void> {
  const modelDir = await resolveModel(o.model);
  const world = await worldOf(modelDir);
  const worldNames = world ? worldTaskList(o.tasks) : null;
  // a world model is evaluated on its own tasks (clean scorer: there are no paper scripts for them)
  const worldInputs = world && worldNames ? worldEvalInputs(world, { tasks: worldNames }) : null;
  const tasks = worldInputs ? worldInputs.tasks : parseTaskList(o.tasks);
  const data = worldInputs ? { dataContent: worldInputs.options.dataContent } : await resolveTaskData(tasks, o);
  const { model, tokenizer, dir } = await openModel(modelDir, {
    dtype: o.dtype,
    ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
  });
  const opts = {
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    seed: o.seed,
    scorer: worldInputs ? ('clean' as const) : o.scorer,
    variant: o.script,
    batchSize: o.batchSize,
    contextPolicy: o.contextPolicy,
    ...data,
  };
  let progress: ProgressLine | null = null;
  const { results, predictions } = evaluateTasks(model, tokenizer, tasks, {
    ...opts,
    onProgress: ({ task, done, total, generatedTokens }) => {
      progress ??= new ProgressLine(o.progress, { label: `eval ${tasks.map((t) => t.name).join(',')}`, total, unit: 'prompts' });
      progress.update(done, `${task} (${generatedTokens} tokens)`);
    },
  });
  (progress as ProgressLine | null)?.stop(true);
  let ppl: PerplexityResult | null = null;
  if (o.perplexity) {
    const file = join(dataDir(), 'wikitext', 'wikitext-2-raw-test.raw');
    const text = world ? heldOutText(world) : readDataFile(file, 'WikiText-2');
    ppl = perplexity(model, tokenizer, text, { maxTokens: o.pplTokens });
  }
  const { dataFiles, dataContent, ...rest } = opts;
  const sources = Object.fromEntries(
    tasks.map((t) => [t.name, dataContent?.[t.name]?.source ?? dataFiles?.[t.name] ?? join(dataDir(), t.dataFile)]),
  );
  const meta = { model: dir, tasks: tasks.map((t) => t.name), data: sources, ...rest };
  if (o.out) {
    mkdirSync(o.out, { recursive: true });
    const lines = results.map((r) => JSON.stringify({ ...meta, ...r }));
    if (ppl) lines.push(JSON.stringify({ ...meta, task: world ? 'world-held-out' : 'wikitext-2', mode: 'perplexity', ...ppl }));
    writeFileSync(join(o.out, 'results.jsonl'), lines.join('\n') + '\n');
    writeFileSync(join(o.out, 'predictions.jsonl'), predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
  }
  if (o.json) console.log(JSON.stringify({ ...meta, results, perplexity: ppl }));
  else {
    console.log(formatSummary(results, ppl, world ? 'held-out world text' : 'WikiText-2'));
    if (o.out) console.log(`\nwrote ${join(o.out, 'results.jsonl')} and ${join(o.out, 'predictions.jsonl')}`);
  }
  model.dispose();
}

export function registerEvalCommands(program: Command): void {
  const evalCmd = program
    .command('eval')
    .description("evaluate a model on the paper's eight general-ability tasks (subcommands: metrics, rescore)")
    .option('--model <dir|hub-id>', MODEL_HELP)
    .option('--tokenizer <path>', 'tokenizer file or folder (default: beside the model)')
    .option(
      '--dtype <dtype>',
      'weight storage: float32, bfloat16, float16, keep',
      choiceOption('--dtype', ['float32', 'bfloat16', 'float16', 'keep'] as const),
      'float32',
    )
    .option(
      '--tasks <list>',
      'all, or a comma list of gsm8k,rte,nq-open,boolq,mutual,samsum,conll2003,sst2; a world model: all, or of reasoning,nli,qa-open,qa-yesno,sentiment,ner,dialogue',
      'all',
    )
    .option('--limit <n>', 'a seeded subset of n examples per task (the same every time)', intOption('--limit', 1))
    .option('--seed <n>', 'seed of the subset', intOption('--seed', 0), 0)
    .option(
      '--scorer <mode>',
      'paper (the original scripts), clean (corrected metrics) or both',
      choiceOption('--scorer', ['paper', 'clean', 'both'] as const),
      'both',
    )
    .option(
      '--script <variant>',
      'which paper script: before (unedited model) or after (edited model)',
      choiceOption('--script', ['before', 'after'] as const),
      'before',
    )
    .option('--batch-size <n>', 'prompts generated together', intOption('--batch-size', 1, 1024), 8)
    .option(
      '--context-policy <p>',
      `prompts longer than the context: ${CONTEXT_POLICIES.join(', ')}`,
      choiceOption('--context-policy', CONTEXT_POLICIES),
      'keep-end',
    )
    .option('--out <dir>', 'write results.jsonl and predictions.jsonl here')
    .option('--perplexity', "also measure perplexity: WikiText-2, or a world model's held-out text")
    .option('--ppl-tokens <n>', 'token budget of the perplexity', intOption('--ppl-tokens', 1), 4096)
    .option(
      '--data <task=file>',
      "a task's data file (the paper's format, or the hub's .parquet); repeatable",
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option(
      '--data-source <src>',
      "where task data comes from when no --data: shared (the paper's files, LMEDIT_DATA) or hub (parquet from the Hugging Face hub)",
      choiceOption('--data-source', ['shared', 'hub'] as const),
      'shared',
    )
    .option('--json', 'print one JSON object instead of the table')
    .option('--no-progress', 'no progress display')
    .action(runEval);
  registerMetricsCommand(evalCmd);
  registerRescoreCommand(evalCmd);
}
