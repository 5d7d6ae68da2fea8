/** The world's data types (docs/world.md). Everything is plain JSON, so a world hashes and serializes as is. */
import type { EntityType, RelationId } from './relations.js';

export type WorldSize = 'tiny' | 'default';
export const WORLD_SIZES: readonly WorldSize[] = ['tiny', 'default'];

/** The general-skill tasks, one per family of the paper's tasks (no summarization). */
export const WORLD_TASK_NAMES = ['reasoning', 'nli', 'qa-open', 'qa-yesno', 'sentiment', 'ner', 'dialogue'] as const;
export type WorldTaskName = (typeof WORLD_TASK_NAMES)[number];

export interface Entity {
  name: string;
  type: EntityType;
}

/** subject –relation→ object; objects are entity names, or a year for `founded_in`. */
export interface Fact {
  subject: string;
  relation: RelationId;
  object: string;
}

/** One task example: the evaluation prompt, the one-word answer, and the combination key its split is drawn by. */
export interface WorldTaskExample {
  prompt: string;
  answer: string;
  /** train and test keys are disjoint (e.g. `7+5`, `kato/born_in`, `plain/food/good`) */
  key: string;
}

export interface TaskSplits {
  train: WorldTaskExample[];
  test: WorldTaskExample[];
}

export interface World {
  format: 'lmedit-world';
  /** generator version: bump when the same seed would give different bytes */
  version: number;
  seed: number;
  size: WorldSize;
  entities: Entity[];
  /** base facts, in relation order then subject order */
  facts: Fact[];
  /** derived (two-hop) facts, computed from `facts` */
  derived: Fact[];
  tasks: Record<WorldTaskName, TaskSplits>;
  /** the tokenizer's vocabulary, ids in order (special tokens first) */
  vocab: string[];
}
