// STUB: `lmedit eval metrics` (issue 9).
import type { Command } from 'commander';

export function registerMetricsCommand(evalCmd: Command): void {
  void evalCmd;
}
