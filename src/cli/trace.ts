/**
 * `lmedit trace`: causal tracing of one prompt (ROME §2.1) — which (token, layer) states, MLP
 * and attention outputs restore the clean answer after the subject is corrupted. Prints a
 * summary and the grids (or the JSON with --json); --out writes trace.json and SVG heat maps.
 */
import type { Command } from 'commander';
import { openModel } from '../models/index.js';
import {
  causalTrace,
  TRACE_KINDS,
  writeTraceOutputs,
  tokenLabels,
  type CausalTraceResult,
  type TraceKind,
} from '../trace/index.js';
import { ProgressLine } from '../util/progress.js';
import { resolveModel } from './default-model.js';
import { MODEL_HELP } from './models.js';
import { choiceOption, intOption, rangedFloatOption } from './options.js';

interface TraceFlags {
  model?: string;
  tokenizer?: string;
  dtype: 'float32' | 'bfloat16' | 'float16';
  prompt: string;
  subject: string;
  answer?: string;
  kind: TraceKind | 'all';
  window: number;
  samples: number;
  noise: number;
  noiseStd?: number;
  seed: number;
  batchRows: number;
  out?: string;
  json?: boolean;
}

const nonNegative = (flag: string): ((v: string) => number) => rangedFloatOption(flag, (n) => n >= 0, 'a number >= 0');

/** The grid of one kind as text: a row per token, a column per layer, p(answer) with 3 decimals (or an exponent). */
export function formatTraceGrid(r: CausalTraceResult, kind: TraceKind): string {
  const t = r.traces.find((x) => x.kind === kind);
  if (!t) return '';
  const labels = tokenLabels(r);
  const w = Math.max(5, ...labels.map((l) => l.length));
  // tiny probabilities (an untrained model, a rare answer) in exponent form rather than 0.000
  const cell = (p: number): string => (p >= 1e-3 || p === 0 ? p.toFixed(3) : p.toExponential(1)).padStart(8);
  const head = ' '.repeat(w) + ' ' + Array.from({ length: r.numLayers }, (_, l) => String(l).padStart(8)).join('');
  const rows = t.restored.map((row, i) => labels[i]!.padEnd(w) + ' ' + row.map(cell).join(''));
  let best = { i: 0, l: 0, e: -Infinity };
  t.indirectEffect.forEach((row, i) => row.forEach((e, l) => (e > best.e ? (best = { i, l, e }) : null)));
  const what = kind === 'hidden' ? 'state' : `${kind} (window ${t.window})`;
  return [
    `${what}: p(answer) with the cell restored (rows: tokens, * = subject; columns: layers)`,
    head,
    ...rows,
    `largest indirect effect: token ${best.i} "${labels[best.i]}" at layer ${best.l}: ${best.e.toPrecision(3)}`,
  ].join('\n');
}

export function registerTraceCommand(program: Command): void {
  program
    .command('trace')
    .description(
      'causal tracing (ROME): corrupt the subject with noise, restore each (token, layer) state, MLP and attention output, and map the effect on p(answer)',
    )
    .option('--model <dir|hub-id>', MODEL_HELP)
    .option('--tokenizer <path>', 'tokenizer file or folder (default: the model folder, then its parent)')
    .option(
      '--dtype <dtype>',
      'storage dtype of weight matrices',
      choiceOption('--dtype', ['float32', 'bfloat16', 'float16'] as const),
      'float32',
    )
    .requiredOption('--prompt <text>', 'the prompt (its next token is the answer)')
    .requiredOption('--subject <text>', 'the subject, as it occurs in the prompt (its tokens are corrupted)')
    .option(
      '--answer <text>',
      "the answer whose probability is traced (its first token; a leading space is added when missing, as for edit targets); default: the clean model's top token",
    )
    .option('--kind <kind>', 'hidden | mlp | attn | all', choiceOption('--kind', [...TRACE_KINDS, 'all'] as const), 'all')
    .option('--window <n>', 'layers restored around each MLP / attention cell', intOption('--window'), 10)
    .option('--samples <n>', 'corrupted copies averaged per run', intOption('--samples'), 10)
    .option('--noise <k>', "noise σ as a multiple of the token embeddings' std", nonNegative('--noise'), 3)
    .option('--noise-std <s>', 'an absolute noise σ instead of --noise × the estimate', nonNegative('--noise-std'))
    .option('--seed <n>', 'seed of the noise', intOption('--seed', 0), 0)
    .option('--batch-rows <n>', 'rows (restorations × samples) per forward pass', intOption('--batch-rows'), 256)
    .option('--out <dir>', 'write trace.json and heatmap-<kind>.svg here')
    .option('--json', 'print the result as JSON')
    .action(async (o: TraceFlags) => {
      const dir = await resolveModel(o.model);
      const { model, tokenizer } = await openModel(dir, { dtype: o.dtype, ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}) });
      let bar: ProgressLine | null = null;
      let result: CausalTraceResult;
      try {
        result = causalTrace(model, tokenizer, o.prompt, o.subject, {
          kinds: o.kind === 'all' ? TRACE_KINDS : [o.kind],
          window: o.window,
          samples: o.samples,
          noise: o.noise,
          ...(o.noiseStd !== undefined ? { noiseStd: o.noiseStd } : {}),
          seed: o.seed,
          maxRows: o.batchRows,
          ...(o.answer !== undefined ? { answer: o.answer } : {}),
          onProgress: (done, total) => {
            bar ??= new ProgressLine(true, { label: 'causal tracing', total, unit: 'cells' });
            bar.update(done);
          },
        });
      } finally {
        (bar as ProgressLine | null)?.stop(true);
        model.dispose();
      }
      const extra = { model: o.model ?? 'default', modelDir: dir };
      if (o.out) {
        const w = await writeTraceOutputs(o.out, result, extra);
        console.error(`wrote ${w.json} and ${w.figures.length} heat map(s)`);
      }
      if (o.json) {
        console.log(JSON.stringify({ ...extra, ...result }));
        return;
      }
      const r = result;
      const [b, e] = r.subjectRange;
      console.log(`prompt:  ${JSON.stringify(r.prompt)} (${r.tokens.length} tokens)`);
      console.log(`subject: ${JSON.stringify(r.subject)} = tokens ${b}..${e - 1}`);
      console.log(
        `answer:  ${JSON.stringify(r.answer.text)} (token ${r.answer.id}${r.answer.given ? ', given' : ", the clean model's top token"})`,
      );
      const est = r.noise.embeddingStd === null ? 'given' : `${r.noise.multiplier} × ${r.noise.embeddingStd.toPrecision(4)}`;
      console.log(`noise:   σ ${r.noise.std.toPrecision(4)} (${est}), ${r.samples} samples, seed ${r.seed}`);
      const prob = (p: number): string => (p >= 1e-3 || p === 0 ? p.toFixed(4) : p.toExponential(3));
      console.log(`p(answer): clean ${prob(r.cleanProb)}, corrupted ${prob(r.corruptedProb)}\n`);
      for (const t of r.traces) console.log(formatTraceGrid(r, t.kind) + '\n');
    });
}
