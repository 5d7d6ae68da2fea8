/**
 * The `lmedit` command line: thin parsing that hands off to library functions.
 */
import { Command } from 'commander';
import { doctor, formatDoctor } from './doctor.js';
import { registerModelCommands } from './models.js';
import { registerEditCommands } from './edit.js';
import { registerMendCommands } from './mend.js';
import { registerEvalCommands } from './eval.js';
import { registerStudyCommands } from './study.js';
import { registerWorkerCommand } from './worker.js';
import { registerTrainCommands } from './train.js';
import { registerReportCommand } from './report.js';
import { registerDemoCommand } from './demo.js';
import { registerHParamsCommands } from './hparams.js';
import { registerTraceCommand } from './trace.js';

export function buildProgram(): Command {
  const program = new Command();
  program.name('lmedit').description('Edit facts inside language models and measure what each edit costs.').version('0.1.0');

  program
    .command('doctor')
    .description('print the compute backend, BLAS vendor, threads, SIMD level and a measured GFLOP/s')
    .option('--json', 'print a JSON object instead of text')
    .option('--n <size>', 'matrix size of the GEMM measurement', (v) => Number.parseInt(v, 10))
    .action((opts: { json?: boolean; n?: number }) => {
      const r = doctor(opts.n ? { n: opts.n } : {});
      console.log(opts.json ? JSON.stringify(r) : formatDoctor(r));
    });

  registerDemoCommand(program);
  registerModelCommands(program);
  registerEditCommands(program);
  registerHParamsCommands(program);
  registerMendCommands(program);
  registerEvalCommands(program);
  registerWorkerCommand(program, registerStudyCommands(program));
  registerTrainCommands(program);
  registerReportCommand(program);
  registerTraceCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
