/** The eight downstream tasks of the paper, by name. */
import { boolq } from './boolq.js';
import { conll2003 } from './conll2003.js';
import { gsm8k } from './gsm8k.js';
import { mutual } from './mutual.js';
import { nqOpen } from './nq-open.js';
import { rte } from './rte.js';
import { samsum } from './samsum.js';
import { sst2 } from './sst2.js';
import { TASK_NAMES, type Task, type TaskName } from './types.js';

export * from './types.js';

export const TASKS: Record<TaskName, Task> = {
  gsm8k: gsm8k as Task,
  rte: rte as Task,
  'nq-open': nqOpen as Task,
  boolq: boolq as Task,
  mutual: mutual as Task,
  samsum: samsum as Task,
  conll2003: conll2003 as Task,
  sst2: sst2 as Task,
};

/** A task by name, with the list of names in the error. */
export function getTask(name: string): Task {
  if (!(TASK_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown task "${name}" (tasks: ${TASK_NAMES.join(', ')})`);
  }
  return TASKS[name as TaskName];
}

/** Parse `all` or a comma list of task names. */
export function parseTaskList(spec: string): Task[] {
  if (spec.trim() === 'all') return TASK_NAMES.map((n) => TASKS[n]);
  const names = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error('--tasks: give "all" or a comma-separated list of task names');
  return [...new Set(names)].map(getTask);
}
