/**
 * @module lmedit/train — pretraining small causal LMs from scratch (the model organism):
 * batching, AdamW, schedules, checkpoints with exact resume, recall evaluation.
 */
export {
  train,
  saveTrainedModel,
  type TrainOptions,
  type TrainResult,
  type TrainProgress,
  type EarlyStopOptions,
  type StopReason,
} from './train.js';
export {
  BatchPlan,
  materialize,
  IGNORE_INDEX,
  type Batch,
  type BatchingOptions,
  type DataPosition,
  type Packing,
  type Row,
} from './data.js';
export {
  AdamW,
  defaultDecay,
  globalNorm,
  clipCoefficient,
  lrAt,
  type AdamWOptions,
  type AdamWSlot,
  type LrSchedule,
} from './optim.js';
export { initModel, smallModelConfig, type InitOptions, type SmallModelSpec } from './init.js';
export { latestCheckpoint, listCheckpoints, readCheckpointState, type CheckpointState, type EvalRecord } from './checkpoint.js';
export { tokenizeCorpus, type CorpusOptions } from './corpus.js';
export { greedyRecall, type RecallItem, type RecallOptions, type RecallResult } from './recall.js';
