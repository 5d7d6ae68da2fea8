/**
 * The world's tasks as src/eval tasks (docs/world.md, "Evaluating the tasks"). A world task has the
 * methods of `Task` (parse, items, clean) and one scorer: exact match of the first generated word
 * (`clean` mode). There are no paper scripts for a synthetic world, so `paper()` throws: evaluate
 * with `scorer: 'clean'`.
 *
 * The data travels as JSON lines of `{prompt, answer, key}` (`worldTaskContent`), which is what
 * `evaluateTasks`' `dataContent` option feeds to `parse`. `Task.name` is typed as one of the paper's
 * eight names; {@link worldEvalInputs} bridges that with a cast until src/eval accepts other names.
 */
import { cleanAnswerRun } from '../eval/tasks/common.js';
import type { TaskEvalOptions } from '../eval/run.js';
import type { Task, TaskName } from '../eval/tasks/types.js';
import { ENTITY_TYPES } from './relations.js';
import { ARITH_ITEMS } from './lexicon.js';
import { WORLD_TASK_NAMES, type TaskSplits, type World, type WorldTaskExample, type WorldTaskName } from './types.js';

/** A world task: `Task`'s contract with a world task name and the paper task it stands in for. */
export interface WorldTask extends Omit<Task<WorldTaskExample>, 'name'> {
  readonly name: WorldTaskName;
  /** the paper's task of the same family */
  readonly family: TaskName;
  /** the world's examples of a split, in memory */
  examples(split: 'train' | 'test'): WorldTaskExample[];
}

interface Spec {
  family: TaskName;
  label: string;
  ability: string;
  /** valid answers (null: any word) */
  answers: readonly string[] | null;
}

const SPECS: Record<WorldTaskName, Spec> = {
  reasoning: { family: 'gsm8k', label: 'Reas', ability: 'Reasoning (arithmetic word problems)', answers: ARITH_ITEMS },
  nli: { family: 'rte', label: 'NLI', ability: 'Natural language inference', answers: ['yes', 'no'] },
  'qa-open': { family: 'nq-open', label: 'ODQA', ability: 'Open-domain question answering', answers: null },
  'qa-yesno': { family: 'boolq', label: 'CDQA', ability: 'Closed-domain question answering', answers: ['yes', 'no'] },
  sentiment: { family: 'sst2', label: 'SA', ability: 'Sentiment analysis', answers: ['positive', 'negative'] },
  ner: { family: 'conll2003', label: 'NER', ability: 'Named entity recognition', answers: ENTITY_TYPES },
  dialogue: { family: 'mutual', label: 'Dial', ability: 'Dialogue (response choice)', answers: ['1', '2', '3'] },
};

/** The first word of a generation, lowercased (the scorer's prediction). */
export function firstWord(text: string): string | null {
  const w = text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  return w === '' ? null : w;
}

/** Examples as JSON lines (the data format of world tasks). */
export function examplesToJsonl(examples: readonly WorldTaskExample[]): string {
  return examples.map((e) => JSON.stringify({ prompt: e.prompt, answer: e.answer, key: e.key })).join('\n') + '\n';
}

function parseJsonl(content: string, file: string): WorldTaskExample[] {
  return content
    .split('\n')
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, n }) => {
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new Error(`${file}: line ${n}: invalid JSON: ${(e as Error).message}`);
      }
      const rec = (v ?? {}) as Record<string, unknown>;
      for (const k of ['prompt', 'answer', 'key']) {
        if (typeof rec[k] !== 'string') throw new Error(`${file}: line ${n}: field "${k}" must be a string`);
      }
      return { prompt: rec['prompt'] as string, answer: rec['answer'] as string, key: rec['key'] as string };
    });
}

function makeTask(name: WorldTaskName, data: TaskSplits): WorldTask {
  const spec = SPECS[name];
  const valid = spec.answers ? new Set(spec.answers) : null;
  return {
    name,
    family: spec.family,
    label: spec.label,
    ability: spec.ability,
    dataFile: `tasks/${name}.test.jsonl`,
    maxNewTokens: 1,
    paperTotal: null,
    examples: (split) => data[split],
    parse: (content, file) => parseJsonl(content, file),
    items: (example, index) => [{ exampleIndex: index, prompt: example.prompt }],
    paper() {
      throw new Error(`world task "${name}" has no paper scorer (no original script exists): evaluate with scorer "clean"`);
    },
    clean: (examples) =>
      cleanAnswerRun(
        examples,
        name,
        (text) => {
          const w = firstWord(text);
          return w !== null && (valid === null || valid.has(w)) ? w : null;
        },
        (ex) => ({ shown: ex.answer, compare: ex.answer }),
      ),
  };
}

/**
 * The world's tasks, optionally only the named ones, in the canonical order. Each holds its
 * examples in memory (`examples(split)`); `evaluateTasks` reads them through `dataContent`.
 */
export function worldTasks(world: World, names: readonly WorldTaskName[] = WORLD_TASK_NAMES): WorldTask[] {
  for (const n of names) {
    if (!WORLD_TASK_NAMES.includes(n)) throw new Error(`unknown world task "${n}" (tasks: ${WORLD_TASK_NAMES.join(', ')})`);
  }
  return WORLD_TASK_NAMES.filter((n) => names.includes(n)).map((n) => makeTask(n, world.tasks[n]));
}

/** Each task's examples of a split as a data file's text (JSON lines), with a source name for errors. */
export function worldTaskContent(
  world: World,
  split: 'train' | 'test' = 'test',
): Record<WorldTaskName, { content: string; source: string }> {
  const out = {} as Record<WorldTaskName, { content: string; source: string }>;
  for (const n of WORLD_TASK_NAMES) {
    out[n] = {
      content: examplesToJsonl(world.tasks[n][split]),
      source: `world(seed ${world.seed}, ${world.size}):${n}.${split}`,
    };
  }
  return out;
}

/**
 * What `evaluateTasks` needs to run the world tasks today:
 * `evaluateTasks(model, tok, inputs.tasks, { ...inputs.options, limit })`. The casts stand in for
 * widening `Task.name` (and the maps keyed by it) from the paper's names to strings in src/eval;
 * at run time src/eval only uses the name as a key and a label.
 */
export function worldEvalInputs(
  world: World,
  opts: { split?: 'train' | 'test'; tasks?: readonly WorldTaskName[] } = {},
): { tasks: Task[]; options: Pick<TaskEvalOptions, 'dataContent' | 'scorer'> } {
  const tasks = worldTasks(world, opts.tasks);
  return {
    tasks: tasks as unknown as Task[],
    options: { scorer: 'clean', dataContent: worldTaskContent(world, opts.split) as unknown as TaskEvalOptions['dataContent'] },
  };
}
