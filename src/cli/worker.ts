/**
 * `lmedit worker --queue redis://…`: run study jobs from the queue on this machine (see
 * src/study/queue/worker.ts), and the hidden `lmedit study job` each job runs in.
 */
import type { Command } from 'commander';
import { runWorker } from '../study/queue/worker.js';
import { jobProcessMain } from './study-job.js';
import { intOption } from './options.js';

interface WorkerFlags {
  queue?: string;
  concurrency: number;
  modelsDir?: string;
  workDir?: string;
  lockSeconds: number;
  maxJobs?: number;
  quiet?: boolean;
}

export function registerWorkerCommand(program: Command, study: Command): void {
  program
    .command('worker')
    .description('run study jobs from a Redis queue on this machine (start as many as you have machines)')
    .option('--queue <url>', 'redis://[:password@]host[:port][/db] or rediss:// (TLS); default $LMEDIT_QUEUE')
    .option('--concurrency <n>', 'jobs at once, each in its own process', intOption('--concurrency', 1), 1)
    .option('--models-dir <dir>', "look models up here by folder name first (the coordinator's checksums decide)")
    .option('--work-dir <dir>', 'where jobs write predictions and heat maps before sending them (default: the temp folder)')
    .option(
      '--lock-seconds <s>',
      'a worker silent this long is taken for dead and its job handed to another one',
      intOption('--lock-seconds', 1),
      30,
    )
    .option('--max-jobs <n>', 'stop after this many jobs', intOption('--max-jobs', 1))
    .option('--quiet', 'no log lines')
    .action(async (o: WorkerFlags) => {
      const queue = o.queue ?? process.env['LMEDIT_QUEUE'];
      if (!queue) throw new Error('--queue redis://host:port is required (or set LMEDIT_QUEUE)');
      await runWorker({
        queue,
        concurrency: o.concurrency,
        ...(o.modelsDir ? { modelsDir: o.modelsDir } : {}),
        ...(o.workDir ? { workDir: o.workDir } : {}),
        lockSeconds: o.lockSeconds,
        ...(o.maxJobs !== undefined ? { maxJobs: o.maxJobs } : {}),
        log: (m) => {
          if (!o.quiet) process.stderr.write(`lmedit worker: ${m}\n`);
        },
      });
    });

  study
    .command('job', { hidden: true })
    .description('(internal) one study job, as a child process of `lmedit worker`')
    .action(() => jobProcessMain());
}
