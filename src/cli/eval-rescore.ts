// STUB: `lmedit eval rescore` (issue 9).
import type { Command } from 'commander';

export function registerRescoreCommand(evalCmd: Command): void {
  void evalCmd;
}
