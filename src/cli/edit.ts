/**
 * `lmedit edit` (apply ROME / R-ROME / MEMIT / FT-L / FT-M edits, optionally through RECT, and
 * report before/after continuations and weight-change figures) and `lmedit stats` (build or
 * inspect layer statistics).
 */
import { MODEL_HELP } from './models.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { heatmapFigureSvg } from '../report/heatmap-figure.js';
import type { Command } from 'commander';
import * as T from '../tensor/index.js';
import { saveSafetensors } from '../io/safetensors.js';
import { generate, openModel, saveModel, scoreContinuations, type CausalLM } from '../models/index.js';
import { decodeAfter, type Tokenizer } from '../tokenizer/index.js';
import { getMethod, METHOD_NAMES, presetKeyFor, resolveHParams, worldPresetKey } from '../edit/registry.js';
import { plainText, recordsToRequests, spacedTarget, validateRequest } from '../edit/request.js';
import { runEdits } from '../edit/runner.js';
import type { EditContext, EditRequest, EditResult } from '../edit/types.js';
import {
  changeOfDeltas,
  makeDeltaTransform,
  weightChange,
  deltaHeatmap,
  writeHeatmap,
  type PcaMode,
  type RegulariserMode,
} from '../edit/rect/index.js';
import { DEFAULT_RECT_KEEP } from '../study/spec.js';
import type { WeightDTypeOption } from '../models/load.js';
import { choiceOption, floatOption, intOption } from './options.js';
import { createStatsProvider, inspectStats, buildStats, type LayerStatsProvider, type StatsSource } from '../edit/stats/index.js';
import { requestsOfData, resolveModel, statsCorpus, worldOf } from './default-model.js';
import { editRequests, type World } from '../world/index.js';
import { PRUNE_KINDS, restrainAccumulated, type PruneOptions } from '../edit/prune/index.js';

/** What `lmedit edit` edits when given no request (a fact the default stories260K model can take). */
const DEMO_REQUEST: EditRequest = { prompt: 'Tom had a big red', subject: 'Tom', target_new: 'car' };

function parseRequests(
  o: { request?: string; data?: string; limit?: number; offset?: number },
  world: World | null,
): EditRequest[] {
  if (o.request && o.data) throw new Error('give either --request or --data, not both');
  if (o.request) {
    let raw: unknown;
    try {
      raw = JSON.parse(o.request);
    } catch (e) {
      throw new Error(`--request is not valid JSON: ${(e as Error).message}`);
    }
    const list = Array.isArray(raw) ? raw : [raw];
    return list.map((r, i) => {
      const rec = r as Record<string, unknown>;
      if (rec && typeof rec === 'object' && 'prompt' in rec && 'target_new' in rec) {
        const out = {
          ...rec,
          target_new: plainText(rec['target_new']),
          ...('ground_truth' in rec ? { ground_truth: plainText(rec['ground_truth']) } : {}),
        } as unknown as EditRequest;
        validateRequest(out, `--request[${i}]`, { needsSubject: false });
        if (typeof rec['rephrase_prompts'] === 'string') out.rephrase_prompts = [rec['rephrase_prompts']];
        return out;
      }
      return recordsToRequests([r], `--request[${i}]`)[0]!;
    });
  }
  if (!o.data) {
    // a world model edits one of its own facts; other models a fact stories260K can take
    const demo = world ? editRequests(world, 1, 0)[0]! : { ...DEMO_REQUEST };
    console.error(
      `no --request or --data: editing the demo request ${JSON.stringify({ prompt: demo.prompt, subject: demo.subject, target_new: demo.target_new })}`,
    );
    return [demo];
  }
  const all = requestsOfData(o.data, world);
  const start = o.offset ?? 0;
  return all.slice(start, o.limit !== undefined ? start + o.limit : undefined);
}

function continuation(model: CausalLM, tok: Tokenizer, prompt: string, n: number): string {
  const ids = tok.encode(prompt);
  return decodeAfter(tok, ids, generate(model, [ids], { maxNewTokens: n }).tokens[0]!, { skipSpecialTokens: true });
}

function targetNll(model: CausalLM, tok: Tokenizer, r: EditRequest): number {
  const prompt = tok.encode(r.prompt);
  const target = tok.encode(spacedTarget(r.target_new), { addBos: false, dummyPrefix: 'never' });
  const [s] = scoreContinuations(model, [{ prompt, continuation: target }]);
  return -s!.logprob / target.length;
}

function figures(model: CausalLM, result: EditResult): ReturnType<typeof weightChange> | null {
  return result.deltas.size === 0 ? null : changeOfDeltas(result.deltas, (n) => model.param(n));
}

interface EditFlags {
  model?: string;
  tokenizer?: string;
  method: string;
  hparams?: string;
  preset?: string;
  request?: string;
  data?: string;
  limit?: number;
  offset?: number;
  sequential?: boolean;
  batchSize: number;
  rect?: number | true;
  rectMode?: RectModeFlag;
  prune?: string | true;
  dtype?: WeightDTypeOption;
  save?: string;
  saveDelta?: string;
  overwrite?: boolean;
  contextTemplates?: string;
  stats?: string;
  corpus?: string;
  statsTokens?: number;
  seed: number;
  heatmap?: string;
  genTokens: number;
  json?: boolean;
}

export function registerEditCommands(program: Command): void {
  program
    .command('edit')
    .description('edit facts in a model and report what changed')
    .option('--model <dir|hub-id>', MODEL_HELP)
    .option('--tokenizer <path>', 'tokenizer file or folder')
    .option('--method <name>', `editing method: ${METHOD_NAMES.join(' | ')}`, 'rome')
    .option('--hparams <file.yaml>', 'EasyEdit-style hyperparameter file (default: the preset for the model)')
    .option('--preset <name>', 'preset name (e.g. gpt2-xl, llama-2-7b, stories260K)')
    .option('--request <json>', 'one request (or an array): {"prompt", "subject", "target_new", ...}; default: a demo request')
    .option('--data <file.json>', "ZsRE / CounterFact / EasyEdit records, or 'world': a world model's own facts")
    .option('--limit <n>', 'use the first n records', intOption('--limit'))
    .option('--offset <n>', 'skip this many records first', intOption('--offset', 0))
    .option('--sequential', 'keep every edit (sequential editing); default restores the model after each edit')
    .option('--batch-size <n>', 'requests per edit (batch editing; MEMIT, FT)', intOption('--batch-size'), 1)
    .option(
      '--rect [keep]',
      `regularise each ΔW, keeping this fraction of its entries (no value: ${DEFAULT_RECT_KEEP}, RECT's default)`,
      floatOption('--rect'),
    )
    .option(
      '--rect-mode <mode>',
      `${RECT_MODE_FLAGS.join(' | ')}: RECT (default), or the paper's baselines Random-k and PCA-k (pca: as the reference code; pca-lowrank: a true rank-k reduction); implies --rect`,
      choiceOption('--rect-mode', RECT_MODE_FLAGS),
    )
    .option(
      '--prune [kind]',
      `PRUNE (Ma et al. 2025) after the sequential edits: restrain the total ΔW's singular values above σ₁(W₀); ${Object.keys(PRUNE_KINDS).join(' | ')} (default log)`,
    )
    .option(
      '--dtype <dtype>',
      'weight storage: float32 (default) | bfloat16 | float16 | keep',
      choiceOption('--dtype', ['float32', 'bfloat16', 'float16', 'keep'] as const),
    )
    .option('--save <dir>', 'save the edited model as a Hugging Face directory (one edit, or --sequential)')
    .option(
      '--save-delta <file.safetensors>',
      'write ΔW (after RECT): the total under each parameter name (one edit, or --sequential), else edit<i>/<parameter> per edit',
    )
    .option('--overwrite', 'let --save and --save-delta replace what is there')
    .option('--context-templates <file.json>', 'fixed context templates instead of sampled ones')
    .option('--stats <file|dir>', 'layer statistics to use (npz / safetensors, or a folder)')
    .option(
      '--corpus <path>',
      "text corpus for computing statistics (default: a world model's own text, else WikiText-2 from the data folder)",
    )
    .option('--stats-tokens <n>', 'token budget for computing statistics', intOption('--stats-tokens'))
    .option('--seed <n>', 'seed for context templates and random baselines', intOption('--seed', 0), 0)
    .option(
      '--heatmap <base>',
      'write |ΔW| heat maps of the last edit: <base>.<param>.svg (a figure with axes, colour scale and δ percentiles) and .png/.csv/.json (the pooled grid)',
    )
    .option('--gen-tokens <n>', 'tokens of the before/after continuations', intOption('--gen-tokens', 0, 4096), 12)
    .option('--json', 'print one JSON object per edit')
    .action(async (o: EditFlags) => runEditCommand(o));

  program
    .command('stats')
    .description('build or inspect layer statistics (second moment of the edited module input)')
    .option('--model <dir|hub-id>', MODEL_HELP)
    .option('--tokenizer <path>', 'tokenizer file or folder')
    .option('--layers <list>', 'comma-separated layers to build (default: the MEMIT preset layers)')
    .option('--corpus <path>', "text corpus (default: a world model's own text, else WikiText-2 from the data folder)")
    .option('--tokens <n>', 'token budget (default 10 x d_k)', intOption('--tokens'))
    .option('--dtype <dtype>', 'accumulation dtype float32 | float64', 'float32')
    .option('--cache-dir <dir>', 'cache folder')
    .option('--out <dir>', 'also write <module>.safetensors (sum and count) into this folder')
    .option('--inspect <file>', 'print shape, count, dtype, trace and eigenvalue range of a stats file')
    .action(
      async (o: {
        model?: string;
        tokenizer?: string;
        layers?: string;
        corpus?: string;
        tokens?: number;
        dtype: string;
        cacheDir?: string;
        out?: string;
        inspect?: string;
      }) => {
        if (o.inspect) {
          console.log(JSON.stringify(inspectStats(o.inspect, { eig: true }), null, 2));
          return;
        }
        const { model, tokenizer, dir } = await openModel(
          await resolveModel(o.model),
          o.tokenizer ? { tokenizer: o.tokenizer } : {},
        );
        const world = await worldOf(dir);
        const corpus = o.corpus ?? statsCorpus(world);
        if (!corpus) throw new Error('no --corpus given and WikiText-2 is not in the data folder');
        const layers = o.layers ? parseLayers(o.layers, model.config.numLayers) : await memitLayers(model, world !== null);
        if (o.dtype !== 'float32' && o.dtype !== 'float64') throw new Error('--dtype must be float32 or float64');
        const built = buildStats({
          model,
          tokenizer,
          corpus,
          modelId: dir,
          targets: layers.map((layer) => ({ layer, moduleName: model.arch.mlpOutTemplate.replace('{}', String(layer)) })),
          dtype: o.dtype,
          ...(o.tokens ? { maxTokens: o.tokens } : {}),
          ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
          ...(o.out ? { outDir: o.out } : {}),
          progress: true,
        });
        for (const [module, info] of built)
          console.log(`${module}: ${info.count} tokens (${info.origin})${info.path ? ` -> ${info.path}` : ''}`);
      },
    );
}

/** `--layers 1,2`: distinct block indices of the model. */
function parseLayers(text: string, numLayers: number): number[] {
  const out = text.split(',').map((part) => {
    const t = part.trim();
    const n = Number(t);
    if (!/^\d+$/.test(t) || n >= numLayers)
      throw new Error(`--layers: "${t}" is not a layer of this model (0..${numLayers - 1}); give a comma list such as 1,2`);
    return n;
  });
  if (new Set(out).size !== out.length) throw new Error(`--layers ${text}: a layer appears twice`);
  return out;
}

async function memitLayers(model: CausalLM, world: boolean): Promise<number[]> {
  const memit = await getMethod('memit');
  const key = world ? worldPresetKey(model) : presetKeyFor(model);
  const hp = key ? (memit.presets[key] as { layers?: number[] } | undefined) : undefined;
  if (!hp?.layers) throw new Error('no MEMIT preset for this model: pass --layers');
  return hp.layers;
}

/** The layer statistics behind an edit's ΔW (methods that use C), by module. */
function statsInUse(model: CausalLM, stats: LayerStatsProvider, result: EditResult): Record<string, StatsSource> {
  const out: Record<string, StatsSource> = {};
  for (const name of result.deltas.keys()) {
    const module = name.replace(/\.(weight|bias)$/, '');
    const src = stats.source(model, module);
    if (src) out[module] = src;
  }
  return out;
}

/** --context-templates: a JSON list of templates (ROME), or of lists (MEMIT's groups), each holding one "{}". */
function readContextTemplates(path: string): string[] | string[][] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`--context-templates ${path}: ${(e as Error).message}`);
  }
  const template = (t: unknown, where: string): string => {
    if (typeof t !== 'string' || t.split('{}').length !== 2)
      throw new Error(`--context-templates ${path}: ${where} must be a string with one "{}", got ${JSON.stringify(t)}`);
    return t;
  };
  if (!Array.isArray(raw) || raw.length === 0)
    throw new Error(`--context-templates ${path}: expected a non-empty JSON list of templates (or of lists of templates)`);
  if (raw.every((g) => Array.isArray(g)))
    return (raw as unknown[][]).map((g, i) => g.map((t, j) => template(t, `entry [${i}][${j}]`)));
  return raw.map((t, i) => template(t, `entry [${i}]`));
}

/**
 * PRUNE at readout: each edited matrix becomes W₀ + F(ΔW) in place, and `cumulative` holds the
 * restrained ΔW (what --save-delta writes and the summary measures).
 */
function pruneInPlace(model: CausalLM, cumulative: Map<string, T.Tensor>, o: PruneOptions, log: (m: string) => void): void {
  const restrained = restrainAccumulated(model, cumulative, o, (name, change) => T.addInPlace(model.param(name), change), log);
  for (const [name, { delta, singular }] of restrained) {
    if (singular) {
      const changed = singular.after.filter((x, i) => x !== singular.before[i]).length;
      log(
        `PRUNE ${name}: σ̄ = σ₁(W₀) ${singular.sbar.toPrecision(4)}; σ₁(ΔW) ${(singular.before[0] ?? 0).toPrecision(4)} → ${(singular.after[0] ?? 0).toPrecision(4)}; ${changed} singular value(s) restrained`,
      );
    }
    cumulative.get(name)!.dispose();
    cumulative.set(name, delta);
  }
}

/**
 * The note for an edit that did not take: the target's mean per-token probability rose by less
 * than 10 % (or fell). Null when it rose more. NLLs are mean nats per target token.
 */
export function editDidNotTake(nllBefore: number, nllAfter: number): string | null {
  const ratio = Math.exp(nllBefore - nllAfter);
  if (!(ratio < 1.1)) return null;
  const how = ratio < 1 ? `fell (×${ratio.toFixed(2)})` : `barely changed (×${ratio.toFixed(2)})`;
  return `the target's probability ${how}: the edit did not take; try other hparams (lmedit hparams export)`;
}

/**
 * After sequential edits: each request on the final model (later edits can undo earlier ones),
 * against the model before any edit and right after its own edit.
 */
function printSequentialSummary(
  model: CausalLM,
  tok: Tokenizer,
  requests: readonly EditRequest[],
  before: Map<EditRequest, { nll: number }>,
  afterEdit: Map<EditRequest, { nll: number }>,
  genTokens: number,
): void {
  let held = 0;
  console.log(`\nafter all ${requests.length} edits (target NLL: before → right after its edit → now):`);
  for (const [i, r] of requests.entries()) {
    const now = targetNll(model, tok, r);
    const text = continuation(model, tok, r.prompt, genTokens);
    const ok = text.trimStart().startsWith(r.target_new.trim());
    if (ok) held++;
    console.log(
      `  ${String(i).padStart(3)} ${ok ? 'holds ' : 'lost  '} ${r.prompt} -> ${JSON.stringify(r.target_new)}: ${before.get(r)!.nll.toFixed(3)} → ${afterEdit.get(r)?.nll.toFixed(3) ?? '-'} → ${now.toFixed(3)}`,
    );
  }
  console.log(`  ${held}/${requests.length} targets are the greedy continuation of their prompt on the final model`);
}

/** --rect-mode values: the regulariser modes, PCA in either variant. */
const RECT_MODE_FLAGS = ['rect', 'random', 'pca', 'pca-lowrank'] as const;
type RectModeFlag = (typeof RECT_MODE_FLAGS)[number];

/** The regulariser of --rect [keep] / --rect-mode (either one turns it on), or null. */
function rectChoice(o: EditFlags): { mode: RegulariserMode; pcaMode?: PcaMode; keep: number } | null {
  if (o.rect === undefined && o.rectMode === undefined) return null;
  const keep = o.rect === undefined || o.rect === true ? DEFAULT_RECT_KEEP : o.rect;
  if (!(keep > 0 && keep <= 1)) throw new Error(`--rect must be a fraction in (0, 1], got ${keep}`);
  const flag = o.rectMode ?? 'rect';
  if (o.rect === undefined && !o.json)
    console.error(`--rect-mode ${flag} without --rect: keeping ${keep} of each ΔW (--rect KEEP changes it)`);
  return flag === 'pca-lowrank' ? { mode: 'pca', pcaMode: 'lowrank', keep } : { mode: flag, keep };
}

/**
 * --save and --save-delta describe the same edited model: refused for several independent edits
 * (each restored before the next, so no single model holds them all) and for existing targets
 * unless --overwrite.
 */
function checkSaveTargets(o: EditFlags, operations: number): void {
  if (o.save && !o.sequential && operations > 1)
    throw new Error(
      `--save: ${operations} independent edits (no --sequential) leave no single edited model; add --sequential to save the model holding all of them, or use --save-delta for each edit's ΔW`,
    );
  for (const [flag, path] of [
    ['--save', o.save],
    ['--save-delta', o.saveDelta],
  ] as const)
    if (path && existsSync(path) && !o.overwrite) throw new Error(`${flag} ${path}: it exists; pass --overwrite to replace it`);
}

async function runEditCommand(o: EditFlags): Promise<void> {
  const { model, tokenizer, dir, tokenizerSource } = await openModel(
    await resolveModel(o.model),
    o.tokenizer ? { tokenizer: o.tokenizer } : {},
  );
  const world = await worldOf(dir);
  const method = await getMethod(o.method);
  const { hp, source } = resolveHParams(method, model, { ...o, world: world !== null });
  const requests = parseRequests(o, world);
  if (requests.length === 0) throw new Error('no requests to edit');
  const operations = Math.ceil(requests.length / o.batchSize);
  // independent (not sequential) edits of several operations: each restored before the next
  const independent = !o.sequential && operations > 1;
  checkSaveTargets(o, operations);
  const prune = o.prune === undefined ? null : PRUNE_KINDS[o.prune === true ? 'log' : o.prune];
  if (o.prune !== undefined && !prune)
    throw new Error(`--prune must be one of ${Object.keys(PRUNE_KINDS).join(', ')}, got ${JSON.stringify(o.prune)}`);
  if (prune && independent) throw new Error('--prune restrains the total ΔW of sequential edits: add --sequential');
  for (const [i, r] of requests.entries()) {
    const n = tokenizer.encode(r.prompt).length + tokenizer.encode(spacedTarget(r.target_new), { addBos: false }).length;
    if (n > model.config.maxPositions)
      throw new Error(
        `request ${r.case_id ?? i}: prompt and target are ${n} tokens, more than the model's context of ${model.config.maxPositions} positions`,
      );
  }
  // a world model's statistics come from its world's text
  const corpus = o.corpus ?? statsCorpus(world);
  const regulariser = rectChoice(o);
  const hpRecord = hp as Record<string, unknown>;
  const stats = createStatsProvider({
    tokenizer,
    modelId: dir,
    ...(o.stats ? { statsPath: o.stats } : {}),
    ...(corpus ? { corpus } : {}),
    ...(o.statsTokens
      ? { maxTokens: o.statsTokens }
      : typeof hpRecord['mom2_max_tokens'] === 'number'
        ? { maxTokens: hpRecord['mom2_max_tokens'] }
        : {}),
    progress: !o.json,
  });
  const ctx: EditContext = {
    tokenizer,
    seed: o.seed,
    stats,
    ...(o.contextTemplates ? { contextTemplates: readContextTemplates(o.contextTemplates) } : {}),
    ...(regulariser ? { transformDelta: makeDeltaTransform({ ...regulariser, seed: o.seed }) } : {}),
    log: (m) => !o.json && console.error(m),
  };
  if (!o.json) {
    console.error(
      `${method.name} on ${dir} (${source})${regulariser ? `, ${o.rectMode ?? 'rect'} keep ${regulariser.keep}` : ''}, ${requests.length} request(s), ${o.sequential ? 'sequential' : 'single'} editing, batch size ${o.batchSize}`,
    );
  }
  const before = new Map<EditRequest, { text: string; nll: number }>();
  for (const r of requests)
    before.set(r, { text: continuation(model, tokenizer, r.prompt, o.genTokens), nll: targetNll(model, tokenizer, r) });
  const afterEdit = new Map<EditRequest, { text: string; nll: number }>();
  const shownStats = new Set<string>();
  const cumulative = new Map<string, T.Tensor>();
  let last: { result: EditResult; fig: ReturnType<typeof figures> } | null = null;
  const summary = runEdits(model, method, requests, hp, ctx, {
    sequential: o.sequential === true,
    batchSize: o.batchSize,
    onEdit: ({ index, requests: chunk, result }) => {
      const fig = figures(model, result);
      last = { result, fig };
      const statistics = statsInUse(model, stats, result);
      if (!o.json)
        for (const [module, src] of Object.entries(statistics))
          if (!shownStats.has(module)) {
            shownStats.add(module);
            console.error(
              `statistics for ${module}: ${src.kind} ${src.path ?? '(not cached)'}${src.tokens !== null ? `, ${src.tokens} tokens` : ''}`,
            );
          }
      for (const [k, r] of chunk.entries()) {
        const b = before.get(r)!;
        const after = { text: continuation(model, tokenizer, r.prompt, o.genTokens), nll: targetNll(model, tokenizer, r) };
        afterEdit.set(r, after);
        if (o.json) {
          console.log(
            JSON.stringify({
              edit: index,
              case_id: r.case_id,
              prompt: r.prompt,
              target_new: r.target_new,
              before: b,
              after,
              weight_change: fig?.total,
              statistics,
              timings: result.timings,
            }),
          );
        } else {
          const label = chunk.length > 1 ? `edit ${index}, request ${k + 1}/${chunk.length}` : `edit ${index}`;
          console.log(`\n[${label}] ${r.prompt} -> ${JSON.stringify(r.target_new)}`);
          console.log(`  before: ${r.prompt}${b.text}   (target NLL ${b.nll.toFixed(3)})`);
          console.log(`  after:  ${r.prompt}${after.text}   (target NLL ${after.nll.toFixed(3)})`);
          const note = editDidNotTake(b.nll, after.nll);
          if (note) console.log(`  note: ${note}`);
        }
      }
      if (fig && !o.json) {
        for (const p of fig.params) {
          const above = p.above.map((a) => `δ>${a.threshold}: ${(100 * a.fraction).toFixed(2)}%`).join(', ');
          console.log(
            `  ΔW ${p.name}: |ΔW|_1 ${p.manhattan.toExponential(3)}, ‖ΔW‖_F ${p.frobenius.toExponential(3)}, nonzero ${p.nonzero}/${p.numel}, δ p50 ${p.ratio.p50.toExponential(2)} p99 ${p.ratio.p99.toExponential(2)} max ${p.ratio.max.toExponential(2)}, ${above}`,
          );
        }
        console.log(`  time ${result.timings.total.toFixed(2)} s`);
      }
      for (const [param, d] of result.deltas) {
        // sequential (or one edit): the total ΔW, saved − original; independent edits: one entry each
        const name = independent ? `edit${index}/${param}` : param;
        const prev = cumulative.get(name);
        cumulative.set(name, T.keep(prev ? T.noGrad(() => T.add(prev, d)) : T.clone(d)));
        prev?.dispose();
      }
      const isLast = index === operations - 1;
      if (isLast && o.save && !prune) {
        saveModel(model, o.save, { sourceDir: dir, tokenizerSource, overwrite: o.overwrite === true });
        if (!o.json) console.error(`saved the edited model to ${o.save}`);
      }
    },
  });
  if (prune) {
    pruneInPlace(model, cumulative, prune, (m) => !o.json && console.error(m));
    if (o.save) {
      saveModel(model, o.save, { sourceDir: dir, tokenizerSource, overwrite: o.overwrite === true });
      if (!o.json) console.error(`saved the edited model (after PRUNE) to ${o.save}`);
    }
  }
  const lastEdit = last as { result: EditResult; fig: ReturnType<typeof figures> } | null;
  if (o.heatmap && lastEdit)
    for (const [name, d] of lastEdit.result.deltas) {
      const paths = writeHeatmap(`${o.heatmap}.${name}`, deltaHeatmap(d, { scale: 'log' }));
      const svg = `${o.heatmap}.${name}.svg`;
      const change = lastEdit.fig?.params.find((p) => p.name === name);
      writeFileSync(svg, await heatmapFigureSvg({ name, delta: d, ...(change ? { change } : {}) }));
      if (!o.json) console.error(`heat map: ${svg} (figure), ${paths.png} (one pixel per block)`);
    }
  if (o.saveDelta) {
    saveSafetensors(o.saveDelta, cumulative, {
      format: 'pt',
      method: method.name,
      note: independent
        ? 'independent edits (each from the original model): edit<i>/<parameter> is edit i’s ΔW'
        : 'total ΔW: the saved model minus the original',
    });
    if (!o.json) console.error(`wrote ΔW of ${cumulative.size} parameter(s) to ${o.saveDelta}`);
  }
  if (!o.json && o.sequential && summary.edits > 1)
    printSequentialSummary(model, tokenizer, requests, before, afterEdit, o.genTokens);
  if (!o.json) console.error(`${summary.edits} edit(s), ${summary.requests} request(s) in ${summary.seconds.toFixed(1)} s`);
  for (const r of summary.results) r.dispose();
  for (const t of cumulative.values()) t.dispose();
  stats.dispose();
  model.dispose();
}
