/**
 * `lmedit train --world --out DIR` (the model organism: generate the world, train a small model
 * on it, save an HF directory with tokenizer and world manifest) and `lmedit train --corpus FILE
 * --tokenizer PATH --out DIR` (the same loop on any plain text).
 */
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadTokenizer } from '../tokenizer/index.js';
import { ProgressLine } from '../util/progress.js';
import { saveTrainedModel, smallModelConfig, tokenizeCorpus, train, type TrainProgress } from '../train/index.js';
import { buildWorldModel, DEFAULT_WORLD_MODEL, type WorldModelSpec } from '../train/world-model.js';
import { choiceOption, intOption, rangedFloatOption } from './options.js';

interface TrainFlags {
  world?: boolean;
  corpus?: string;
  tokenizer?: string;
  out: string;
  seed: number;
  size: 'tiny' | 'default';
  arch: 'gpt2' | 'llama';
  hidden?: number;
  layers?: number;
  heads?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  stopAtRecall?: number;
  quiet?: boolean;
}

function progress(quiet: boolean): { onProgress: (p: TrainProgress) => void; stop: () => void } {
  let line: ProgressLine | null = null;
  return {
    onProgress: (p) => {
      line ??= new ProgressLine(!quiet, { label: 'training', total: p.steps, unit: 'steps' });
      line.update(p.step, `loss ${p.lossAvg.toFixed(3)}`);
    },
    stop: () => line?.stop(true),
  };
}

export function registerTrainCommands(program: Command): void {
  program
    .command('train')
    .description('train a small causal LM from scratch: the world model (--world) or on a text corpus (--corpus)')
    .option('--world', 'generate the synthetic world and train the model organism on it')
    .option('--corpus <file>', 'plain text, documents separated by blank lines')
    .option('--tokenizer <path>', 'tokenizer.json (or a folder) for --corpus')
    .requiredOption('--out <dir>', 'where the Hugging Face model directory goes')
    .option('--seed <n>', 'world and training seed', intOption('--seed', 0), 0)
    .option('--size <size>', 'world size: tiny | default', choiceOption('--size', ['tiny', 'default']), 'default')
    .option('--arch <arch>', 'gpt2 | llama (for --corpus)', choiceOption('--arch', ['gpt2', 'llama']), 'llama')
    .option('--hidden <d>', 'hidden size', intOption('--hidden'))
    .option('--layers <n>', 'blocks', intOption('--layers'))
    .option('--heads <n>', 'attention heads', intOption('--heads'))
    .option('--epochs <n>', 'passes over the training text', intOption('--epochs'))
    .option('--batch-size <n>', 'rows per step', intOption('--batch-size'))
    .option('--lr <lr>', 'peak learning rate', Number.parseFloat)
    .option(
      '--stop-at-recall <share>',
      '--world: stop early once held-out-template recall (every 500 steps) reaches this share or stops improving',
      rangedFloatOption('--stop-at-recall', (n) => n > 0 && n <= 1, 'in (0, 1]'),
    )
    .option('--quiet', 'no progress')
    .action(async (o: TrainFlags) => {
      if (!!o.world === !!o.corpus) throw new Error('give exactly one of --world or --corpus FILE');
      const bar = progress(o.quiet === true);
      if (o.world) {
        const spec: WorldModelSpec = {
          ...DEFAULT_WORLD_MODEL,
          seed: o.seed,
          size: o.size,
          ...(o.hidden ? { hiddenSize: o.hidden } : {}),
          ...(o.layers ? { numLayers: o.layers } : {}),
          ...(o.heads ? { numHeads: o.heads } : {}),
          ...(o.epochs ? { epochs: o.epochs } : {}),
          ...(o.batchSize ? { batchSize: o.batchSize } : {}),
          ...(o.lr ? { lr: o.lr } : {}),
          ...(o.stopAtRecall !== undefined ? { stopAtRecall: o.stopAtRecall } : {}),
        };
        const report = await buildWorldModel(o.out, spec, { checkpointDir: `${o.out}.checkpoints`, onProgress: bar.onProgress });
        bar.stop();
        rmSync(`${o.out}.checkpoints`, { recursive: true, force: true }); // kept only to resume a killed run
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      if (!o.tokenizer) throw new Error('--corpus needs --tokenizer PATH (tokenizer.json or its folder)');
      if (!existsSync(o.corpus!)) throw new Error(`--corpus ${o.corpus}: no such file`);
      const tok = await loadTokenizer(o.tokenizer);
      const documents = tokenizeCorpus(readFileSync(o.corpus!, 'utf8'), tok);
      if (documents.length === 0) throw new Error(`--corpus ${o.corpus}: no text`);
      const config = smallModelConfig({
        arch: o.arch,
        vocabSize: tok.vocabSize,
        hiddenSize: o.hidden ?? 128,
        numLayers: o.layers ?? 4,
        numHeads: o.heads ?? 4,
        maxPositions: 256,
        bosTokenId: tok.bosId,
        eosTokenId: tok.eosId,
        padTokenId: tok.padId ?? tok.eosId,
      });
      const run = await train({
        config,
        documents,
        epochs: o.epochs ?? 1,
        seed: o.seed,
        checkpointDir: `${o.out}.checkpoints`,
        onProgress: bar.onProgress,
        ...(o.batchSize ? { batchSize: o.batchSize } : {}),
        ...(o.lr ? { lr: o.lr } : {}),
      });
      bar.stop();
      saveTrainedModel(run.model, o.out, config);
      rmSync(`${o.out}.checkpoints`, { recursive: true, force: true });
      const tokDir = o.tokenizer.endsWith('.json') ? join(o.tokenizer, '..') : o.tokenizer;
      for (const f of ['tokenizer.json', 'tokenizer_config.json'])
        if (existsSync(join(tokDir, f))) copyFileSync(join(tokDir, f), join(o.out, f));
      console.log(`trained ${run.step} steps (loss ${run.finalLoss?.toFixed(3)}); saved to ${o.out}`);
    });
}
