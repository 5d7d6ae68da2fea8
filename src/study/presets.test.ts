/**
 * The built-in studies: every preset builds a valid study at both scales and for both models
 * with the numbers of evaluation.md §3.3; --model swaps only the model; resolveStudy picks a file
 * or a preset and lists the presets when neither fits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TASK_NAMES } from '../eval/tasks/types.js';
import { expandCells, studyEditsNeeded } from './cells.js';
import { EDIT_DATA_FILE, getPreset, listPresets, PRESET_SCALES, PRESET_VARIANTS, resolveStudy } from './presets.js';
import { parseStudy, studyToYaml } from './spec.js';

const IDS = [
  'kn-instance-sequential',
  'rome-instance-sequential',
  'mend-batch-single',
  'memit-batch-single',
  'memit-batch-sequential',
  'rect-downstream',
  'rect-editing',
  'rivals',
  'weight-change',
  'demo',
];
/** The paper's presets (the demo runs on a world model and has its own test). */
const PAPER_IDS = IDS.filter((id) => id !== 'demo');

test('every preset builds and validates at both scales and for both models', () => {
  assert.deepEqual(
    listPresets().map((p) => p.id),
    IDS,
  );
  for (const p of listPresets().filter((x) => PAPER_IDS.includes(x.id))) {
    assert.ok(p.title.length > 0 && p.figure.length > 0, p.id);
    for (const scale of PRESET_SCALES) {
      for (const variant of PRESET_VARIANTS) {
        const s = p.build({ scale, variant });
        assert.deepEqual(parseStudy(parseYaml(studyToYaml(s)), 'again'), s, `${p.id} ${scale} ${variant}`);
        assert.equal(s.data.file, EDIT_DATA_FILE);
        assert.equal(s.model.path, variant === 'gpt2-xl' ? 'gpt2-xl' : 'huggyllama/llama-7b');
        assert.equal(s.model.dtype, 'float32');
        assert.ok(studyEditsNeeded(s) <= 3111, `${p.id}: the paper's three passes over ZsRE`);
        if (scale === 'tiny') {
          assert.ok(Math.max(...s.mode.batch_sizes) <= 4, p.id);
          assert.ok(Math.max(0, ...s.mode.checkpoints) <= 4, p.id);
          if (s.tasks.names.length > 0) assert.equal(s.tasks.limit, 3, p.id);
          assert.match(s.name, /-tiny$/);
        } else assert.equal(s.tasks.limit, undefined, p.id);
      }
    }
  }
  assert.equal(getPreset('kn-instance-sequential').build().name, 'kn-instance-sequential');
  assert.equal(getPreset('kn-instance-sequential').build({ variant: 'llama-7b' }).name, 'kn-instance-sequential-llama-7b');
});

test("presets carry the paper's numbers (evaluation.md §3.3)", () => {
  const mode = (id: string, variant: 'gpt2-xl' | 'llama-7b' = 'gpt2-xl') => getPreset(id).build({ variant }).mode;
  assert.deepEqual(mode('kn-instance-sequential'), { sequential: true, batch_sizes: [1], checkpoints: [0, 1, 2, 3, 4] });
  assert.deepEqual(mode('kn-instance-sequential', 'llama-7b').checkpoints, [0, 1, 2, 3, 4]);
  assert.deepEqual(mode('rome-instance-sequential').checkpoints, [0, 5, 10, 15, 20]);
  assert.deepEqual(mode('rome-instance-sequential', 'llama-7b').checkpoints, [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(mode('mend-batch-single'), { sequential: false, batch_sizes: [1, 5, 10], checkpoints: [] });
  assert.deepEqual(mode('mend-batch-single', 'llama-7b').batch_sizes, [5, 10, 15, 20]);
  assert.deepEqual(mode('memit-batch-single').batch_sizes, [1, 10, 100, 1000, 2000, 3000]);
  assert.deepEqual(mode('memit-batch-single', 'llama-7b').batch_sizes, [1, 5, 10]);
  assert.deepEqual(mode('memit-batch-sequential'), {
    sequential: true,
    batch_sizes: [10, 30, 50],
    checkpoints: [0, 10, 20, 30, 40, 50],
  });
  assert.deepEqual(mode('memit-batch-sequential', 'llama-7b'), {
    sequential: true,
    batch_sizes: [2, 3, 4],
    checkpoints: [0, 2, 4],
  });
  assert.deepEqual(mode('weight-change').checkpoints, [1, 5, 10, 15]);

  const down = getPreset('rect-downstream').build();
  assert.deepEqual(
    down.methods.map((m) => m.name),
    ['ROME', 'ROME+RECT-80%', 'ROME+RECT-60%', 'ROME+RECT-40%', 'ROME+RECT-20%', 'ROME+Random-40%', 'ROME+PCA-40%'],
  );
  assert.deepEqual(down.mode.checkpoints, [0, 5, 10, 15, 20]);
  assert.deepEqual(down.tasks.names, ['samsum', 'nq-open', 'boolq', 'sst2']);
  const editing = getPreset('rect-editing').build();
  assert.equal(editing.methods.length, 14);
  assert.deepEqual(editing.tasks.names, []);
  assert.equal(editing.metrics.enabled, true);
  assert.equal(expandCells(editing).length, 14);
  const weights = getPreset('weight-change').build();
  assert.deepEqual(weights.tasks.names, []);
  assert.equal(weights.metrics.enabled, false);
  for (const id of ['kn-instance-sequential', 'rome-instance-sequential', 'memit-batch-single'])
    assert.deepEqual(getPreset(id).build().tasks.names, [...TASK_NAMES]);
  // MEND needs a trained archive: no hparams in the preset, an hparams file through the options
  assert.equal(getPreset('mend-batch-single').build().methods[0]!.hparams, undefined);
  assert.equal(getPreset('mend-batch-single').build({ hparams: 'mend.yaml' }).methods[0]!.hparams, 'mend.yaml');
  assert.throws(() => getPreset('rect-editing').build({ hparams: 'x.yaml' }), /one hparams file cannot serve rome and memit/);
});

test('tiny scale shrinks batch sizes and checkpoints', () => {
  const tiny = (id: string) => getPreset(id).build({ scale: 'tiny' }).mode;
  assert.deepEqual(tiny('rome-instance-sequential').checkpoints, [0, 2, 4]);
  assert.deepEqual(tiny('memit-batch-single').batch_sizes, [1, 2, 4]);
  assert.deepEqual(tiny('mend-batch-single').batch_sizes, [1, 2, 4]);
  assert.deepEqual(tiny('memit-batch-sequential'), { sequential: true, batch_sizes: [2], checkpoints: [0, 2, 4] });
  assert.deepEqual(tiny('weight-change').checkpoints, [1, 2, 4]);
  assert.deepEqual(getPreset('rect-editing').build({ scale: 'tiny' }).tasks.limit, undefined);
});

test('--model swaps the model and keeps the numbers', () => {
  for (const p of listPresets().filter((x) => PAPER_IDS.includes(x.id))) {
    const base = p.build({ variant: 'llama-7b' });
    const swapped = p.build({ variant: 'llama-7b', model: '/models/tiny-llama' });
    assert.deepEqual(swapped, { ...base, model: { ...base.model, path: '/models/tiny-llama' } });
  }
  const s = resolveStudy('rome-instance-sequential', { model: 'gpt2', scale: 'tiny' });
  assert.equal(s.model.path, 'gpt2');
  assert.deepEqual(s.mode.checkpoints, [0, 2, 4]);
});

test('resolveStudy: a file, a preset, or an error listing the presets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-presets-'));
  try {
    const file = join(dir, 'my.yaml');
    writeFileSync(file, studyToYaml(getPreset('memit-batch-single').build({ scale: 'tiny' })));
    const fromFile = resolveStudy(file);
    assert.deepEqual(fromFile, getPreset('memit-batch-single').build({ scale: 'tiny' }));
    assert.equal(resolveStudy(file, { model: '/m' }).model.path, '/m');
    assert.equal(resolveStudy(file, { hparams: 'h.yaml' }).methods[0]!.hparams, 'h.yaml');
    assert.throws(() => resolveStudy(file, { scale: 'tiny' }), /scale and variant choose a preset's numbers/);
    assert.throws(() => resolveStudy(dir), /is a directory/);
    assert.throws(
      () => resolveStudy(join(dir, 'missing.yaml')),
      /no study file ".*missing\.yaml"; presets: kn-instance-sequential, /,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(resolveStudy('weight-change').name, 'weight-change');
  assert.throws(
    () => resolveStudy('rome-instance-sequentail'),
    /"rome-instance-sequentail" is neither a study file nor a preset \(did you mean the preset "rome-instance-sequential"\?\); presets: kn-instance-sequential, rome-instance-sequential/,
  );
  assert.throws(() => getPreset('nope'), /unknown preset "nope"; presets: /);
  assert.throws(() => getPreset('rome-instance-sequential').build({ scale: 'huge' as 'tiny' }), /unknown scale "huge"/);
  assert.throws(
    () => getPreset('rome-instance-sequential').build({ variant: 'llama-2' as 'llama-7b' }),
    /unknown preset variant "llama-2"/,
  );
});

test('the demo preset: ROME and MEMIT with and without RECT-40% on the world model, its tasks and probes', () => {
  const full = getPreset('demo').build();
  assert.deepEqual(parseStudy(parseYaml(studyToYaml(full)), 'again'), full);
  assert.equal(full.model.path, 'default');
  assert.equal(full.data.file, 'world');
  assert.deepEqual(full.tasks.names, ['reasoning', 'nli', 'qa-open', 'qa-yesno', 'sentiment', 'ner', 'dialogue']);
  assert.equal(full.tasks.scorer, 'clean');
  assert.equal(full.tasks.limit, undefined);
  assert.deepEqual(full.probes, { unrelated_recall: true, perplexity: true });
  assert.deepEqual(
    full.methods.map((m) => m.name),
    ['ROME', 'ROME+RECT-40%', 'MEMIT', 'MEMIT+RECT-40%'],
  );
  assert.deepEqual(
    expandCells(full).map((c) => c.id),
    ['ROME/b1', 'ROME+RECT-40%/b1', 'MEMIT/b4', 'MEMIT+RECT-40%/b4'],
  );
  assert.ok(full.mode.sequential && full.mode.checkpoints[0] === 0 && Math.max(...full.mode.checkpoints) >= 20);
  const quick = getPreset('demo').build({ scale: 'tiny' });
  assert.equal(quick.model.path, 'quick');
  assert.equal(quick.name, 'demo-quick');
  assert.ok(Math.max(...quick.mode.checkpoints) <= 4 && quick.tasks.limit !== undefined);
  assert.equal(getPreset('demo').build({ model: '/m/world' }).model.path, '/m/world');
  assert.throws(() => getPreset('demo').build({ variant: 'llama-7b' }), /no variant/);
});
