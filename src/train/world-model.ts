/**
 * The model organism: a small LLaMA-architecture model trained from scratch on the synthetic
 * world (src/world), saved as a Hugging Face directory with its tokenizer and world manifest.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import type { CausalLM } from '../models/types.js';
import {
  generateWorld,
  recallProbes,
  trainingDocumentParts,
  worldEvalInputs,
  writeTokenizer,
  writeWorld,
  type World,
  type WorldSize,
  type WorldTaskName,
} from '../world/index.js';
import { evaluateTasks } from '../eval/run.js';
import { greedyRecall } from './recall.js';
import { smallModelConfig } from './init.js';
import { saveTrainedModel, train, type StopReason, type TrainProgress } from './train.js';

export interface WorldModelSpec {
  seed: number;
  size: WorldSize;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** repetitions of every fact statement in the training text */
  factRepeats: number;
  /**
   * examples of these tasks per epoch, the next ones of their training splits each epoch (the other
   * tasks show all their examples every epoch)
   */
  taskPerPass: Partial<Record<WorldTaskName, number>>;
  /** task examples carry loss on their answer only (their prompt is context), as in supervised fine-tuning */
  answerOnly: boolean;
  /** passes over the training text */
  epochs: number;
  batchSize: number;
  lr: number;
  /**
   * stop early once held-out-template recall (evaluated every 500 steps) reaches this, or has not
   * improved by 0.2 points for 8 evaluations (a plateau); null: train every epoch
   */
  stopAtRecall: number | null;
}

/** What `lmedit train --world` builds by default (chosen by the runs recorded in docs/world.md). */
export const DEFAULT_WORLD_MODEL: WorldModelSpec = {
  seed: 0,
  size: 'default',
  hiddenSize: 128,
  numLayers: 2,
  numHeads: 4,
  factRepeats: 4,
  taskPerPass: { reasoning: 3000, nli: 2000, 'qa-yesno': 2000, dialogue: 1000 },
  answerOnly: true,
  epochs: 14,
  batchSize: 32,
  lr: 1e-3,
  stopAtRecall: null,
};

export interface WorldModelReport {
  spec: WorldModelSpec;
  seconds: number;
  steps: number;
  /** why training ended: every step run (`completed`), or an early stop (`target`, `plateau`) */
  stopReason: StopReason;
  finalLoss: number | null;
  /** greedy recall of every base fact, in the trained templates and in the held-out ones */
  recall: { trained: number; heldOut: number };
  /** accuracy of each general-skill task on its test split */
  tasks: Record<string, number>;
  parameters: number;
}

/** Probes as token ids: the prompt without BOS (the trainer frames documents with it). */
function recallItems(tok: Tokenizer, world: World, split: 'train-templates' | 'held-out-templates') {
  return recallProbes(world, split, { kinds: 'base' }).map((p) => ({
    prompt: tok.encode(p.prompt, { addBos: false }),
    answer: tok.encode(` ${p.answer}`, { addBos: false }),
  }));
}

/** Recall and task accuracy of a world model. */
export function measureWorldModel(model: CausalLM, tok: Tokenizer, world: World): Pick<WorldModelReport, 'recall' | 'tasks'> {
  const bosId = tok.bosId;
  const recall = {
    trained: greedyRecall(model, recallItems(tok, world, 'train-templates'), { bosId }).accuracy,
    heldOut: greedyRecall(model, recallItems(tok, world, 'held-out-templates'), { bosId }).accuracy,
  };
  const { tasks, options } = worldEvalInputs(world, { split: 'test' });
  const { results } = evaluateTasks(model, tok, tasks, { ...options, batchSize: 32 });
  return { recall, tasks: Object.fromEntries(results.map((r) => [r.task, r.primary ?? 0])) };
}

/**
 * Generate the world, train the model on it and save everything to `out` (atomically: a killed
 * build leaves no half directory; with `checkpointDir` a killed build resumes).
 */
export async function buildWorldModel(
  out: string,
  spec: WorldModelSpec = DEFAULT_WORLD_MODEL,
  opts: { checkpointDir?: string; onProgress?: (p: TrainProgress) => void; log?: (m: string) => void } = {},
): Promise<WorldModelReport> {
  const t0 = performance.now();
  const world = generateWorld({ seed: spec.seed, size: spec.size });
  const tokDir = mkdtempSync(join(tmpdir(), 'lmedit-world-tok-'));
  try {
    await writeTokenizer(tokDir, world);
    const tok = await loadTokenizer(tokDir);
    // every epoch is in the documents (each with its own task examples), so the trainer makes one pass
    const parts = trainingDocumentParts(world, {
      factRepeats: spec.factRepeats,
      seed: spec.seed,
      passes: spec.epochs,
      taskPerPass: spec.taskPerPass,
    });
    const documents = parts.map((d) => tok.encode(d.text, { addBos: false }));
    const config = smallModelConfig({
      arch: 'llama',
      vocabSize: tok.vocabSize,
      hiddenSize: spec.hiddenSize,
      numLayers: spec.numLayers,
      numHeads: spec.numHeads,
      maxPositions: 64,
      bosTokenId: tok.bosId,
      eosTokenId: tok.eosId,
      padTokenId: tok.eosId,
    });
    // the training curve and the early stop follow held-out-template recall: generalization, not memorization
    const probes = recallItems(tok, world, 'held-out-templates');
    const run = await train({
      config,
      documents,
      ...(spec.answerOnly ? { lossStart: parts.map((d) => d.answerFrom) } : {}),
      epochs: 1,
      batchSize: spec.batchSize,
      lr: spec.lr,
      seed: spec.seed,
      ...(opts.checkpointDir ? { checkpointDir: opts.checkpointDir } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      evaluate: (model) => greedyRecall(model, probes, { bosId: tok.bosId }).accuracy,
      evalEvery: 500,
      ...(spec.stopAtRecall !== null ? { earlyStop: { target: spec.stopAtRecall, patience: 8, minDelta: 0.002 } } : {}),
    });
    const measured = measureWorldModel(run.model, tok, world);
    const parameters = [...run.model.params.values()].reduce((s, t) => s + t.size, 0);
    const report: WorldModelReport = {
      spec,
      seconds: (performance.now() - t0) / 1000,
      steps: run.step,
      stopReason: run.stopReason,
      finalLoss: run.finalLoss,
      parameters,
      ...measured,
    };
    const files: Record<string, string> = {};
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) files[f] = readFileSync(join(tokDir, f), 'utf8');
    files['world-model.json'] = `${JSON.stringify(report, null, 2)}\n`;
    saveTrainedModel(run.model, out, config, files);
    await writeWorld(out, world);
    run.model.dispose();
    opts.log?.(`world model: recall ${pct(report.recall.trained)} trained / ${pct(report.recall.heldOut)} held-out templates`);
    return report;
  } finally {
    rmSync(tokDir, { recursive: true, force: true });
  }
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
