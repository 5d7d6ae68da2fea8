/**
 * Where evaluation data lives: the shared data folder (`$LMEDIT_DATA`, else `$LMEDIT_SHARED/data`,
 * else ../shared/data beside the repository), and reading a task's file with errors that name it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScorerMode, Task } from './tasks/types.js';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The folder holding `gsm8k/`, `rte/`, ... `zsre/`, `wikitext/`. */
export function dataDir(): string {
  if (process.env['LMEDIT_DATA']) return resolve(process.env['LMEDIT_DATA']);
  const shared = process.env['LMEDIT_SHARED'] ?? resolve(repoRoot, '..', 'shared');
  return join(shared, 'data');
}

/** The default path of a task's data file. */
export function taskDataPath(task: Pick<Task, 'dataFile'>): string {
  return join(dataDir(), task.dataFile);
}

/** Read a UTF-8 file with an error that names it and says how to point lmedit elsewhere. */
export function readDataFile(path: string, what: string): string {
  if (!existsSync(path)) {
    throw new Error(`${what}: ${path} not found (set LMEDIT_DATA to the folder holding the task data, or pass the file)`);
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Parse a task's data file (default: the shared copy). */
export function loadTaskExamples<E>(task: Task<E>, mode: ScorerMode, file?: string): { examples: E[]; file: string } {
  const path = file ?? taskDataPath(task);
  const examples = task.parse(readDataFile(path, `${task.name} data`), path, mode);
  return { examples, file: path };
}
