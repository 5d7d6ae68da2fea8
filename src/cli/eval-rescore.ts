/**
 * `lmedit eval rescore`: score saved generations (a JSONL of `{example_index, continuation_ids,
 * pad_tokens?, entity_type?}`) with a task's `paper` or `clean` scorer, without a model.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { choiceOption } from './options.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { loadTaskExamples } from '../eval/data.js';
import { parsePredictions, rescore, type RescoreResult } from '../eval/rescore.js';
import { getTask } from '../eval/tasks/index.js';
import type { CleanOptions, ScorerMode, ScriptVariant } from '../eval/tasks/index.js';

interface RescoreFlags {
  task: string;
  scorer: ScorerMode;
  script: ScriptVariant;
  tokenizer: string;
  predictions: string;
  data?: string;
  json?: boolean;
  rationale: boolean;
  strict?: boolean;
  nerF1?: boolean;
}

function formatValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** The readable summary printed without --json. */
export function formatRescore(task: string, mode: ScorerMode, variant: ScriptVariant, file: string, r: RescoreResult): string {
  const crashes = r.cases.filter((c) => 'raises' in c.outcome).length;
  const head = `${task}: ${mode} scorer${mode === 'paper' ? ` (${variant}-edit script)` : ''}, ${r.cases.length} predictions from ${file}`;
  const rows = Object.entries(r.aggregate)
    .filter(([k]) => k !== 'primary')
    .map(([k, v]) => `  ${k.padEnd(18)} ${formatValue(v)}`);
  const tail = [`  ${'primary'.padEnd(18)} ${formatValue(r.aggregate['primary'])}`];
  if (crashes > 0) tail.push(`  ${crashes} prediction(s) make the paper's script raise; the aggregate is a crash, not a number`);
  return [head, ...rows, ...tail].join('\n');
}

export function registerRescoreCommand(evalCmd: Command): void {
  // `eval` has options of the same names (--scorer, --script, --tokenizer, --data, --json): they
  // must not swallow the ones written after `rescore`. Commander hands a subcommand its own
  // options only when every command above it parses positionally.
  for (let c: Command | null = evalCmd; c; c = c.parent) c.enablePositionalOptions();
  evalCmd
    .command('rescore')
    .description("re-score saved generations with a task's paper or clean scorer (no model needed)")
    .requiredOption('--task <name>', 'gsm8k | rte | nq-open | boolq | mutual | samsum | conll2003 | sst2')
    .requiredOption(
      '--scorer <mode>',
      "paper (the paper's scripts, bugs included) | clean (corrected metric)",
      choiceOption('--scorer', ['paper', 'clean'] as const),
    )
    .option(
      '--script <variant>',
      "paper scorer: the paper's before- or after-edit script",
      choiceOption('--script', ['before', 'after'] as const),
      'before',
    )
    .requiredOption('--tokenizer <dir>', 'tokenizer of the model that generated (file or folder)')
    .requiredOption(
      '--predictions <file.jsonl>',
      'one JSON object per line: {example_index, continuation_ids, pad_tokens?, entity_type?} (lines whose "task" is another task are skipped)',
    )
    .option('--data <file>', "the task's data file (default: the shared copy)")
    .option('--no-rationale', 'clean GSM8K: prompts without the gold rationale (not the paper task)')
    .option('--strict', 'clean NQ-open: exact match of the first line')
    .option('--ner-f1', 'clean CoNLL-2003: entity-level micro-F1 instead of recall')
    .option('--json', 'print one JSON object {cases, aggregate}')
    .action(async (o: RescoreFlags) => {
      const task = getTask(o.task);
      const { scorer: mode, script: variant } = o;
      let content: string;
      try {
        content = readFileSync(o.predictions, 'utf8');
      } catch (e) {
        throw new Error(`--predictions: cannot read ${o.predictions}: ${(e as Error).message}`);
      }
      const parsed = parsePredictions(content, o.predictions);
      // a predictions.jsonl of `lmedit eval --out` holds every task's lines: keep this task's
      const keep = parsed.predictions.map((p) => {
        const t = typeof p === 'object' && p !== null ? (p as Record<string, unknown>)['task'] : undefined;
        return t === undefined || t === task.name;
      });
      const predictions = parsed.predictions.filter((_, i) => keep[i]);
      const lineNumbers = parsed.lineNumbers.filter((_, i) => keep[i]);
      if (predictions.length === 0) throw new Error(`${o.predictions}: no predictions for ${task.name}`);
      const tokenizer = await loadTokenizer(o.tokenizer);
      const { examples } = loadTaskExamples(task, mode, o.data);
      const cleanOptions: CleanOptions = {};
      if (!o.rationale) cleanOptions.rationale = false;
      if (o.strict) cleanOptions.strict = true;
      if (o.nerF1) cleanOptions.nerF1 = true;
      const r = rescore({
        task,
        mode,
        variant,
        tokenizer,
        predictions,
        lineNumbers,
        predictionsFile: o.predictions,
        examples,
        cleanOptions,
      });
      console.log(o.json ? JSON.stringify(r) : formatRescore(task.name, mode, variant, o.predictions, r));
    });
}
