/**
 * The built-in model organism (docs/world.md): a seeded synthetic world of entities and facts, its
 * training and held-out text, recall probes, edit requests, general-skill tasks and a word-level
 * tokenizer.
 */
export { generateWorld, SIZES, WORLD_VERSION, type GenerateOptions, type SizeSpec } from './generate.js';
export { entitiesOf, factsOf, objectOf } from './lookup.js';
export {
  BASE_RELATIONS,
  DERIVED_RELATIONS,
  ENTITY_TYPES,
  RELATIONS,
  RELATION_IDS,
  relation,
  render,
  templatePrompt,
  type BaseRelationId,
  type DerivedRelationId,
  type EntityType,
  type Relation,
  type RelationId,
  type Template,
  type ValueType,
} from './relations.js';
export {
  EOT,
  UNK,
  exampleText,
  heldOutDocuments,
  heldOutText,
  recallProbes,
  trainingDocumentParts,
  trainingDocuments,
  trainingSections,
  type ProbeSplit,
  type RecallProbe,
  type RecallProbeOptions,
  type TrainingDocument,
  type TrainingDocumentOptions,
  type TrainingSections,
} from './text.js';
export { DEFAULT_EDIT_RELATIONS, editRequests, type EditRequestOptions } from './edits.js';
export { examplesToJsonl, firstWord, worldEvalInputs, worldTaskContent, worldTasks, type WorldTask } from './eval-tasks.js';
export { NUMBER_TOKENS, buildVocab, tokenizerConfigJson, tokenizerJson, words, writeTokenizer } from './tokenizer.js';
export { readWorld, worldHash, worldManifest, writeWorld, type WorldManifest } from './io.js';
export {
  WORLD_SIZES,
  WORLD_TASK_NAMES,
  type Entity,
  type Fact,
  type TaskSplits,
  type World,
  type WorldSize,
  type WorldTaskExample,
  type WorldTaskName,
} from './types.js';
