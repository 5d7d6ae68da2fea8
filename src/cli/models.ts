/**
 * `lmedit generate | inspect | forward`: run a model from the command line, describe it, or
 * dump its logits and activations for comparison with another implementation.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { intOption, rangedFloatOption } from './options.js';
import * as T from '../tensor/index.js';
import { saveSafetensors } from '../io/safetensors.js';
import { generate, leftPad, openModel, Trace, type CausalLM } from '../models/index.js';
import { decodeAfter } from '../tokenizer/index.js';
import type { WeightDTypeOption } from '../models/load.js';
import { resolveModel } from './default-model.js';

function parseDtype(v: string): WeightDTypeOption {
  const map: Record<string, WeightDTypeOption> = {
    f32: 'float32',
    float32: 'float32',
    bf16: 'bfloat16',
    bfloat16: 'bfloat16',
    f16: 'float16',
    float16: 'float16',
    keep: 'keep',
  };
  const d = map[v];
  if (!d) throw new Error(`--dtype must be one of float32, bfloat16, float16, keep (got "${v}")`);
  return d;
}

interface ModelFlags {
  model?: string;
  tokenizer?: string;
  dtype?: WeightDTypeOption;
}

/** The --model help every command shares. */
export const MODEL_HELP =
  "Hugging Face model directory or hub id; 'default' (when omitted): the built-in world model, trained once and cached; 'quick': a smaller world model; 'stories260K': the tiny checkpoint in ../shared";

function addModelFlags(cmd: Command): Command {
  return cmd
    .option('--model <dir|hub-id>', MODEL_HELP)
    .option('--tokenizer <path>', 'tokenizer file or folder (default: the model folder, then its parent)')
    .option('--dtype <dtype>', 'storage dtype of weight matrices: float32 | bfloat16 | float16 | keep', parseDtype);
}

export function registerModelCommands(program: Command): void {
  addModelFlags(program.command('generate').description('generate text with a model (greedy by default)'))
    .option('--prompt <text...>', 'one or more prompts (batched with left padding)', ['Once upon a time'])
    .option('--max-new-tokens <n>', 'tokens to generate', intOption('--max-new-tokens', 0, 1_000_000), 64)
    .option('--sample', 'sample instead of greedy decoding')
    .option(
      '--temperature <t>',
      'sampling temperature',
      rangedFloatOption('--temperature', (t) => t > 0, 'a positive number'),
      1,
    )
    .option('--top-k <k>', 'sample from the k most likely tokens', intOption('--top-k', 0), 0)
    .option(
      '--top-p <p>',
      'nucleus sampling mass',
      rangedFloatOption('--top-p', (p) => p > 0 && p <= 1, 'a probability mass in (0, 1]'),
      1,
    )
    .option('--seed <n>', 'random seed for sampling', intOption('--seed', 0), 0)
    .option('--stop <text...>', 'stop strings')
    .option('--json', 'print JSON lines instead of text')
    .action(
      async (
        o: ModelFlags & {
          prompt: string[];
          maxNewTokens: number;
          sample?: boolean;
          temperature: number;
          topK: number;
          topP: number;
          seed: number;
          stop?: string[];
          json?: boolean;
        },
      ) => {
        const { model, tokenizer } = await openModel(await resolveModel(o.model), {
          dtype: o.dtype ?? 'float32',
          ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
        });
        const prompts = o.prompt.map((p) => tokenizer.encode(p));
        const longest = Math.max(...prompts.map((p) => p.length));
        if (longest + o.maxNewTokens > model.config.maxPositions)
          throw new Error(
            `a prompt of ${longest} tokens plus --max-new-tokens ${o.maxNewTokens} exceeds the model's context of ${model.config.maxPositions} positions`,
          );
        const t0 = Date.now();
        const single = prompts.length === 1 && !o.json && process.stdout.isTTY;
        if (single) process.stdout.write(o.prompt[0]!);
        let printed = '';
        const soFar: number[] = [];
        const res = generate(model, prompts, {
          maxNewTokens: o.maxNewTokens,
          doSample: o.sample === true,
          temperature: o.temperature,
          topK: o.topK,
          topP: o.topP,
          seed: o.seed,
          ...(o.stop ? { stopStrings: o.stop } : {}),
          decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }),
          ...(single
            ? {
                // stream a single prompt's continuation as it grows
                onStep: (_step: number, next: (number | null)[]) => {
                  if (next[0] === null || next[0] === undefined) return;
                  soFar.push(next[0]);
                  const text = decodeAfter(tokenizer, prompts[0]!, soFar, { skipSpecialTokens: true });
                  process.stdout.write(text.slice(printed.length));
                  printed = text;
                },
              }
            : {}),
        });
        const secs = (Date.now() - t0) / 1000;
        res.tokens.forEach((toks, i) => {
          const text = decodeAfter(tokenizer, prompts[i]!, toks, { skipSpecialTokens: true });
          if (o.json)
            console.log(
              JSON.stringify({ prompt: o.prompt[i], completion: text, tokens: toks, finish_reason: res.finishReason[i] }),
            );
          else if (single) process.stdout.write(text.slice(printed.length) + '\n');
          else console.log(`${o.prompt[i]}${text}\n`);
        });
        const n = res.tokens.reduce((s, t) => s + t.length, 0);
        if (!o.json)
          console.error(`[${n} tokens in ${secs.toFixed(2)} s, ${(n / secs).toFixed(1)} tok/s, backend ${T.getBackend().name}]`);
        model.dispose();
      },
    );

  addModelFlags(program.command('inspect').description('architecture, parameter count, dtypes and hook point names of a model'))
    .option('--json', 'print JSON')
    .action(async (o: ModelFlags & { json?: boolean }) => {
      const { model, dir } = await openModel(await resolveModel(o.model), {
        dtype: o.dtype ?? 'keep',
        ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
      });
      const info = describe(model, dir);
      console.log(o.json ? JSON.stringify(info, null, 2) : formatInspect(info));
      model.dispose();
    });

  addModelFlags(
    program
      .command('forward')
      .description('dump logits (and hidden states / MLP keys) for token-id sequences to a safetensors file'),
  )
    .requiredOption('--input <ids.json>', 'JSON array of token-id arrays (ragged rows are left-padded)')
    .requiredOption('--save <out.safetensors>', 'output file')
    .option('--hidden', 'also save every block output as hidden.<layer> [B, T, D]')
    .option('--keys <layer>', "also save that layer's MLP keys (input of the down projection) [B, T, F]", intOption('--keys', 0))
    .action(async (o: ModelFlags & { input: string; save: string; hidden?: boolean; keys?: number }) => {
      const { model } = await openModel(await resolveModel(o.model), {
        dtype: o.dtype ?? 'float32',
        ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
      });
      const rows = parseIdRows(o.input, model.config.vocabSize);
      const out = forwardDump(model, rows, { hidden: o.hidden === true, ...(o.keys !== undefined ? { keys: o.keys } : {}) });
      saveSafetensors(o.save, out, { format: 'pt', source: 'lmedit forward' });
      console.log(`wrote ${[...out.keys()].join(', ')} to ${o.save}`);
      model.dispose();
    });
}

function parseIdRows(path: string, vocabSize: number): number[][] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new Error(`${path}: expected a non-empty JSON array of token-id arrays`);
  const rows = (Array.isArray(raw[0]) ? raw : [raw]) as unknown[];
  return rows.map((r, i) => {
    if (!Array.isArray(r) || r.length === 0 || !r.every((x) => Number.isInteger(x) && x >= 0 && x < vocabSize)) {
      throw new Error(`${path}: row ${i} must be a non-empty array of token ids in 0..${vocabSize - 1}`);
    }
    return r as number[];
  });
}

/** Logits, attention mask, optional per-block hidden states and one layer's MLP keys. */
export function forwardDump(model: CausalLM, rows: number[][], opts: { hidden: boolean; keys?: number }): Map<string, T.Tensor> {
  const arch = model.arch;
  if (opts.keys !== undefined && (opts.keys < 0 || opts.keys >= arch.numLayers)) {
    throw new Error(`--keys ${opts.keys}: the model has layers 0..${arch.numLayers - 1}`);
  }
  const blocks = [...Array(arch.numLayers).keys()].map((i) => arch.layerTemplate.replace('{}', String(i)));
  const keysModule = opts.keys !== undefined ? arch.mlpOutTemplate.replace('{}', String(opts.keys)) : null;
  const tr = new Trace({
    retainOutput: opts.hidden ? blocks : [],
    retainInput: [...(opts.hidden ? [blocks[0]!] : []), ...(keysModule ? [keysModule] : [])],
  });
  const pad = model.config.padTokenId ?? model.config.eosTokenId ?? 0;
  const { ids, mask } = leftPad(rows, pad);
  const res = T.noGrad(() => model.forward({ ids, attentionMask: mask, trace: tr }));
  const out = new Map<string, T.Tensor>([
    ['input_ids', ids],
    ['attention_mask', mask],
    ['logits', res.logits!],
  ]);
  if (opts.hidden) {
    out.set('embed_out', tr.input(blocks[0]!));
    blocks.forEach((b, i) => out.set(`hidden.${i}`, tr.output(b)));
    out.set('final_norm_out', res.hidden!);
  }
  if (keysModule) out.set(`mlp_keys.${opts.keys}`, tr.input(keysModule));
  return out;
}

interface InspectInfo {
  dir: string;
  modelType: string;
  arch: string;
  parameters: number;
  dtypes: Record<string, number>;
  config: CausalLM['config'];
  modules: CausalLM['arch'];
  hookPoints: string[];
}

function describe(model: CausalLM, dir: string): InspectInfo {
  const dtypes: Record<string, number> = {};
  let parameters = 0;
  for (const t of model.params.values()) {
    parameters += t.size;
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + t.size;
  }
  // hook points of layer 0 stand for every layer; the rest are listed once
  const layer0 = [...model.hookPoints]
    .filter((h) => /\.(h|layers)\.0(\.|$)/.test(h))
    .map((h) => h.replace(/\.(h|layers)\.0(\.|$)/, '.$1.{}$2'));
  const global = [...model.hookPoints].filter((h) => !/\.(h|layers)\.\d+(\.|$)/.test(h));
  return {
    dir,
    modelType: model.config.modelType,
    arch: model.config.arch,
    parameters,
    dtypes,
    config: model.config,
    modules: model.arch,
    hookPoints: [...global, ...layer0],
  };
}

function formatInspect(i: InspectInfo): string {
  const c = i.config;
  const lines = [
    `model       ${i.dir}`,
    `type        ${i.modelType} (architecture ${i.arch})`,
    `parameters  ${i.parameters.toLocaleString('en-US')} (${Object.entries(i.dtypes)
      .map(([d, n]) => `${d}: ${n.toLocaleString('en-US')}`)
      .join(', ')})`,
    `shape       ${c.numLayers} layers, d_model ${c.hiddenSize}, ${c.numHeads} heads (${c.numKvHeads} kv), head dim ${c.headDim}, MLP ${c.intermediateSize}, vocab ${c.vocabSize}, context ${c.maxPositions}`,
    `modules     block ${i.modules.layerTemplate}, MLP ${i.modules.mlpTemplate}, MLP in ${i.modules.mlpInTemplate}, MLP out (ROME/MEMIT rewrite) ${i.modules.mlpOutTemplate}`,
    `            embedding ${i.modules.embedding}, final norm ${i.modules.finalNorm}, LM head ${i.modules.lmHead}, weight layout ${i.modules.weightLayout}`,
    `hook points ({} = layer 0..${c.numLayers - 1}):`,
    ...i.hookPoints.map((h) => `  ${h}`),
  ];
  return lines.join('\n');
}
