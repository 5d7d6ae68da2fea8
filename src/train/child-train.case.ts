/**
 * Test fixture run as a child process: the tiny training run checkpointing into argv[2],
 * printing "step N" after each step, slowed by a short sleep per step so the parent can SIGKILL
 * it mid-run (possibly mid-checkpoint).
 */
import { train } from './train.js';
import { tinyRun } from './tiny-run.case.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: child-train.ts CHECKPOINT_DIR');
const sleep = new Int32Array(new SharedArrayBuffer(4));
await train(
  tinyRun({
    checkpointDir: dir,
    checkpointEvery: 3,
    onProgress: (p) => {
      process.stdout.write(`step ${p.step}\n`);
      Atomics.wait(sleep, 0, 0, 15);
    },
  }),
);
process.stdout.write('done\n');
