/**
 * `lmedit mend train`: meta-train a MEND editor on ZsRE-style records (checkpoints, resume,
 * early stopping, progress with ETA) and write DIR/mend.yaml for `lmedit edit --method mend`.
 */
import { MODEL_HELP } from './models.js';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openModel } from '../models/index.js';
import { readHParamsFile } from '../edit/hparams.js';
import { presetKeyFor } from '../edit/registry.js';
import {
  EDIT_YAML,
  MEND_PRESETS,
  mendTrainRecords,
  parseMendHParams,
  trainMend,
  type MendHParams,
  type MendTrainRecord,
} from '../edit/mend/index.js';
import { resolveModel } from './default-model.js';

interface TrainFlags {
  model?: string;
  tokenizer?: string;
  data: string;
  limit?: number;
  valData?: string;
  valLimit?: number;
  holdout?: number;
  out: string;
  hparams?: string;
  preset?: string;
  maxIters?: number;
  resume?: boolean;
  json?: boolean;
}

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

function readRecords(path: string, log: (m: string) => void): MendTrainRecord[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  const { records, skipped } = mendTrainRecords(raw, path);
  if (skipped) log(`${path}: skipped ${skipped} record(s) with an empty target`);
  return records;
}

function resolveHParams(o: TrainFlags, key: string | null): { hp: MendHParams; source: string } {
  if (o.hparams) return { hp: parseMendHParams(readHParamsFile(o.hparams), o.hparams), source: o.hparams };
  const name = o.preset ?? key;
  if (!name)
    throw new Error(
      `no MEND preset for this model; pass --hparams FILE.yaml (inner_params, rank, ...) or --preset (${Object.keys(MEND_PRESETS).join(', ')})`,
    );
  const hp = MEND_PRESETS[name];
  if (!hp) throw new Error(`MEND has no preset "${name}" (available: ${Object.keys(MEND_PRESETS).join(', ')})`);
  return { hp, source: `preset ${name}` };
}

export function registerMendCommands(program: Command): void {
  const mend = program.command('mend').description('MEND: train the editor network used by `lmedit edit --method mend`');
  mend
    .command('train')
    .description('meta-train a MEND editor on edit records (ZsRE src/alt/rephrase/loc/loc_ans, CounterFact, EasyEdit)')
    .option('--model <dir|hub-id>', MODEL_HELP)
    .option('--tokenizer <path>', 'tokenizer file or folder')
    .requiredOption('--data <file.json>', 'training records (e.g. zsre_mend_train-1k.json)')
    .option('--limit <n>', 'use the first n training records', int('--limit'))
    .option('--val-data <file.json>', 'validation records (early stopping; the best editor is kept)')
    .option('--val-limit <n>', 'use the first n validation records', int('--val-limit'))
    .option('--holdout <n>', 'without --val-data: validate on the last n training records (not trained on)', int('--holdout'))
    .requiredOption('--out <dir>', 'output folder: editor.safetensors/json, training state, mend.yaml')
    .option('--hparams <file.yaml>', 'EasyEdit MEND hyperparameters (default: the preset for the model)')
    .option('--preset <name>', `preset: ${Object.keys(MEND_PRESETS).join(', ')}`)
    .option('--max-iters <n>', 'training iterations (overrides max_iters; also when resuming)', int('--max-iters'))
    .option('--resume', 'continue the run saved in --out')
    .option('--json', 'print the training summary as JSON on stdout')
    .action(async (o: TrainFlags) => runTrain(o));
}

async function runTrain(o: TrainFlags): Promise<void> {
  const log = (m: string) => console.error(m);
  const { model, tokenizer, dir } = await openModel(await resolveModel(o.model), o.tokenizer ? { tokenizer: o.tokenizer } : {});
  try {
    const { hp, source } = resolveHParams(o, presetKeyFor(model));
    let train = readRecords(o.data, log);
    if (o.limit !== undefined) train = train.slice(0, o.limit);
    let val: MendTrainRecord[] = [];
    if (o.valData) val = readRecords(o.valData, log);
    else if (o.holdout) {
      if (o.holdout >= train.length)
        throw new Error(`--holdout ${o.holdout} leaves no training records (${train.length} in total)`);
      val = train.slice(train.length - o.holdout);
      train = train.slice(0, train.length - o.holdout);
    }
    if (o.valLimit !== undefined) val = val.slice(0, o.valLimit);
    log(
      `MEND training on ${dir} (${source}): ${train.length} training and ${val.length} validation record(s), inner params ${hp.inner_params.join(', ')}`,
    );
    const { editor, summary } = trainMend({
      model,
      tokenizer,
      hparams: hp,
      train,
      ...(val.length ? { val } : {}),
      outDir: o.out,
      resume: o.resume === true,
      ...(o.maxIters !== undefined ? { maxIters: o.maxIters } : {}),
      modelSource: dir,
      progress: !o.json,
      log: o.json ? () => {} : log,
    });
    editor.dispose();
    if (o.json) console.log(JSON.stringify({ out: o.out, ...summary }));
    else {
      console.log(
        `trained MEND editor: ${o.out} (${summary.iterations} iterations, ${summary.optimizerSteps} optimizer steps, ${summary.stoppedBy})`,
      );
      if (summary.valStats)
        console.log(
          `validation at iteration ${summary.iteration}: ${Object.entries(summary.valStats)
            .map(([k, v]) => `${k} ${v.toFixed(4)}`)
            .join(', ')}`,
        );
      console.log(
        `edit with: lmedit edit --method mend --hparams ${o.out}/${EDIT_YAML} --model ${dir} --request '{"prompt": "...", "target_new": "..."}'`,
      );
    }
  } finally {
    model.dispose();
  }
}
