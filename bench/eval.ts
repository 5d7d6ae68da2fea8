/**
 * Downstream-task generation throughput (issue: evaluation): the eight tasks at `--limit 20`
 * (seeded subset, the paper's prompts, GPT-2 tokenizer) on the GPT-2-medium-shaped random model
 * of the other benchmarks. Batched generation (sorted by length, left-padded, KV cache) against
 * the same prompts generated one at a time, as the paper's scripts do (batch size 1; their
 * padding to 1024 tokens is left out, which favours the one-at-a-time side). Random weights never
 * emit EOS early, so every prompt generates its task's max_new_tokens.
 *
 * `npm run bench -- eval [--limit N] [--batch-size B] [--tasks a,b]`  (target: tokens/s ratio >= 4)
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../src/tensor/index.js';
import { generate } from '../src/models/generate.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { loadTaskExamples } from '../src/eval/data.js';
import { generateBatched } from '../src/eval/generation.js';
import { seededSubset } from '../src/eval/run.js';
import { parseTaskList } from '../src/eval/tasks/index.js';
import { emit } from './core.js';
import { randomGpt2 } from './models.js';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const shared = process.env['LMEDIT_SHARED'] ?? resolve(repo, '..', 'shared');

function flag(args: string[], name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
}

export async function runEval(args: string[]): Promise<void> {
  const limit = Number(flag(args, '--limit', '20'));
  const bs = Number(flag(args, '--batch-size', '8'));
  const tasks = parseTaskList(flag(args, '--tasks', 'all'));
  const tok = await loadTokenizer(join(shared, 'data', 'gpt2-tokenizer'));
  const model = randomGpt2(24, 1024, 16);
  let allTokens = 0;
  let allBatched = 0;
  let allSingle = 0;
  let allPaperBatched = 0;
  let allPaperStyle = 0;
  for (const task of tasks) {
    const { examples } = loadTaskExamples(task, 'paper');
    const items = seededSubset(examples.length, limit, 0).flatMap((i) => task.items(examples[i], i));
    const prompts = items.map((it) => tok.encode(it.prompt));
    const t0 = performance.now();
    const gens = generateBatched(model, prompts, { maxNewTokens: task.maxNewTokens, batchSize: bs, eosTokenId: null });
    const batched = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const singles = prompts.map((p) => generate(model, [p], { maxNewTokens: task.maxNewTokens, eosTokenId: null }).tokens[0]!);
    const single = (performance.now() - t1) / 1000;
    const tokens = gens.reduce((s, g) => s + g.generatedIds.length, 0);
    const same = gens.every((g, i) => g.generatedIds.join() === singles[i]!.join());
    // the paper's scripts: batch 1, every prompt left-padded to 1024 (possible only with one new
    // token on GPT-2's 1024 positions); timed on a few prompts and scaled to all of them
    const paperStyle =
      task.maxNewTokens === 1
        ? paddedOneAtATime(prompts.slice(0, 3), model) * (prompts.length / Math.min(3, prompts.length))
        : null;
    allTokens += tokens;
    allBatched += batched;
    allSingle += single;
    emit({
      name: `eval ${task.name} (${items.length} prompts, ${prompts.reduce((s, p) => s + p.length, 0)} prompt tokens, ${task.maxNewTokens} new)`,
      value: tokens / batched,
      unit: 'generated tokens/s',
      examples_per_s: limit / batched,
      one_at_a_time_tokens_per_s: tokens / single,
      ratio: single / batched,
      ratio_meaning: 'batched throughput / one-at-a-time throughput',
      same_tokens: same,
      ...(paperStyle !== null
        ? { paper_style_padded_1024_tokens_per_s: tokens / paperStyle, ratio_vs_paper_style: paperStyle / batched }
        : {}),
    });
    if (paperStyle !== null) {
      allPaperBatched += batched;
      allPaperStyle += paperStyle;
    }
  }
  emit({
    name: `eval all tasks (--limit ${limit}, batch ${bs})`,
    value: allTokens / allBatched,
    unit: 'generated tokens/s',
    one_at_a_time_tokens_per_s: allTokens / allSingle,
    ratio: allSingle / allBatched,
    target: '>= 4',
  });
  if (allPaperStyle > 0) {
    emit({
      name: "eval one-token tasks vs the paper scripts' padded batch-1 runs",
      value: allPaperStyle / allPaperBatched,
      unit: 'x',
      ratio_meaning: 'paper-style time / batched time',
    });
  }
  model.dispose();
}

/** Seconds to generate one token for each prompt alone, left-padded to 1024 positions. */
function paddedOneAtATime(prompts: readonly number[][], model: ReturnType<typeof randomGpt2>): number {
  const t0 = performance.now();
  for (const p of prompts) {
    T.noGrad(() =>
      T.tidy(() => {
        const L = 1024 - 1;
        const ids = T.tensor(Int32Array.from([...new Array<number>(L - p.length).fill(50256), ...p]), [1, L], 'int32');
        const mask = T.tensor(Uint8Array.from([...new Array<number>(L - p.length).fill(0), ...p.map(() => 1)]), [1, L], 'uint8');
        void model.forward({ ids, attentionMask: mask, logits: 'last' });
      }),
    );
  }
  return (performance.now() - t0) / 1000;
}
