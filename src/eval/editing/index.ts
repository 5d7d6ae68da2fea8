/**
 * @module lmedit/eval/editing — the editing metrics of docs/evaluation.md ("Editing metrics"; EasyEdit's token
 * accuracy for reliability / generalization / portability, locality, fluency, CounterFact
 * probabilities) and the evaluation orders over any editing method.
 */
export {
  DEFAULT_EVAL_BATCH,
  encodePair,
  answerPredictions,
  accuracyOf,
  tokenAccuracy,
  generationExactMatch,
  type PromptTarget,
  type EncodedPair,
} from './token-accuracy.js';
export { localityPredictions, localityAgreement } from './locality.js';
export {
  encodeAnswer,
  answerNlls,
  counterfactCase,
  aggregateCounterFact,
  harmonicMean,
  type PrefixAnswer,
  type TargetNlls,
  type CounterFactCase,
  type CounterFactSummary,
} from './counterfact.js';
export { fluency, sampleTopK, cleanGeneration, recordSeed, type FluencyOptions } from './fluency.js';
export {
  EVAL_ORDERS,
  EDIT_METRICS_VERSION,
  computeMetrics,
  summarize,
  evaluatePre,
  evaluateUnedited,
  evaluateEditedModel,
  evaluateEdits,
  type EvalOrder,
  type MetricOptions,
  type RecordMetrics,
  type MetricSet,
  type EditingEvaluation,
  type EvaluateEditsOptions,
} from './evaluate.js';
