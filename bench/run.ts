/**
 * Benchmark entry: `npm run bench -- [suite ...] [--quick]`. Suites: core (default), models, edit, eval, world.
 * Never part of `npm test`; prints JSON lines (name, value, unit, ratio).
 */
import { runCore } from './core.js';
import { runModels } from './models.js';
import { runEdit } from './edit.js';
import { runEval } from './eval.js';
import { runWorld } from './world.js';

const args = process.argv.slice(2);
/** flags followed by a value (which is not a suite name) */
const VALUE_FLAGS = new Set(['--keep']);
const suites = args.filter((a, i) => !a.startsWith('--') && !VALUE_FLAGS.has(args[i - 1] ?? ''));
const all: Record<string, (a: string[]) => void | Promise<void>> = {
  core: runCore,
  models: runModels,
  edit: runEdit,
  eval: runEval,
  world: runWorld,
};
for (const s of suites.length ? suites : ['core']) {
  const fn = all[s];
  if (!fn) {
    console.error(`unknown bench suite "${s}"; available: ${Object.keys(all).join(', ')}`);
    process.exit(2);
  }
  await fn(args);
}
