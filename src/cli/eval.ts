/**
 * `lmedit eval` (the eight downstream tasks on a model), with subcommands `eval metrics` (editing
 * metrics) and `eval rescore` (re-score saved generations without a model).
 */
import type { Command } from 'commander';
import { registerMetricsCommand } from './eval-metrics.js';
import { registerRescoreCommand } from './eval-rescore.js';

export function registerEvalCommands(program: Command): void {
  const evalCmd = program
    .command('eval')
    .description('evaluate a model on the paper\'s eight general-ability tasks (see also: eval metrics, eval rescore)')
    .action(() => {
      throw new Error('lmedit eval: not implemented yet');
    });
  registerMetricsCommand(evalCmd);
  registerRescoreCommand(evalCmd);
}
