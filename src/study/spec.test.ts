/**
 * Study files: defaults, shorthands, one error line per bad field (naming the field path),
 * unknown fields with "did you mean", cross-field checks, and the YAML round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { getMethod, METHOD_NAMES } from '../edit/registry.js';
import { TASK_NAMES } from '../eval/tasks/types.js';
import { parseStudy, readStudyFile, SINGLE_REQUEST_METHODS, studyToYaml, variantName } from './spec.js';
import type { StudySpec } from './types.js';

/** The smallest valid study. */
function minimal(): Record<string, unknown> {
  return {
    name: 'tiny',
    model: { path: 'gpt2-xl' },
    methods: [{ method: 'rome' }],
    mode: { sequential: true, checkpoints: [0, 5] },
    data: { file: 'zsre/x.json' },
  };
}

/** The error message of parsing `raw` (fails the test if it parses). */
function errorOf(raw: unknown, source = 'study.yaml'): string {
  try {
    parseStudy(raw, source);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected a parse error');
}

test('defaults fill every optional field', () => {
  const s = parseStudy(minimal(), 'study.yaml');
  assert.deepEqual(s, {
    name: 'tiny',
    model: { path: 'gpt2-xl', dtype: 'float32' },
    methods: [{ name: 'ROME', method: 'rome' }],
    mode: { sequential: true, batch_sizes: [1], checkpoints: [0, 5] },
    data: { file: 'zsre/x.json', begin: 0, step: 1 },
    tasks: { names: [...TASK_NAMES], scorer: 'both', batch_size: 8 },
    metrics: { enabled: true, order: 'post-each' },
    probes: { unrelated_recall: false, perplexity: false },
    seeds: { edit: 0, tasks: 0 },
    quirks: { legacy_sequential_bug: false, legacy_batch_chunking: false, drop_incomplete_chunk: false },
  } satisfies StudySpec);
});

test('variant names default from method and regulariser; shorthands', () => {
  assert.equal(variantName('rome'), 'ROME');
  assert.equal(variantName('r-rome', { keep: 0.4, mode: 'rect' }), 'R-ROME+RECT-40%');
  assert.equal(variantName('rome', { keep: 0.4, mode: 'random' }), 'ROME+Random-40%');
  assert.equal(variantName('memit', { keep: 0.4, mode: 'pca' }), 'MEMIT+PCA-40%');
  assert.equal(variantName('rome', { keep: 0.125, mode: 'rect' }), 'ROME+RECT-12.5%');
  const s = parseStudy(
    {
      ...minimal(),
      model: 'some/model',
      methods: [
        'ROME',
        { method: 'rome', rect: 0.2 },
        { method: 'rome', rect: { mode: 'pca' } },
        { method: 'kn', name: 'my KN' },
      ],
      tasks: { names: 'all', limit: null },
    },
    'x',
  );
  assert.deepEqual(s.model, { path: 'some/model', dtype: 'float32' });
  assert.deepEqual(
    s.methods.map((m) => m.name),
    ['ROME', 'ROME+RECT-20%', 'ROME+PCA-40%', 'my KN'],
  );
  assert.deepEqual(s.methods[1]!.rect, { keep: 0.2, mode: 'rect' });
  assert.deepEqual(s.methods[2]!.rect, { keep: 0.4, mode: 'pca' });
  assert.equal(s.methods[0]!.method, 'rome');
  assert.deepEqual(s.tasks.names, [...TASK_NAMES]);
  assert.equal(s.tasks.limit, undefined);
});

test('every bad field is reported, each line naming its field path', () => {
  const msg = errorOf({
    name: 'a b',
    model: { path: 'm', dtype: 'fp8' },
    methods: [{ method: 'romee' }, { method: 'rome', rect: { keep: 1.5, mode: 'rec' } }, 42],
    mode: { sequential: 'yes', batch_sizes: [1, -3], checkpoints: [0, 'x'] },
    data: { file: '', begin: -1, step: 0, end: 2.5 },
    tasks: { names: ['gsm8k', 'conll'], limit: 0, scorer: 'papr', batch_size: 0 },
    metrics: { enabled: 1, order: 'single' },
    seeds: { edit: -1, tasks: 1.5 },
    quirks: { drop_incomplete_chunk: 'true' },
  });
  const lines = msg.split('\n');
  assert.ok(
    lines.every((l) => l.startsWith('study.yaml: ')),
    msg,
  );
  const expect = [
    'field "name":',
    'field "model.dtype": expected one of "float32", "float16", "bfloat16", got "fp8"',
    'field "methods[0].method": unknown method "romee" (did you mean "rome"?)',
    'field "methods[1].rect.keep": expected a fraction in (0, 1], got 1.5',
    'field "methods[1].rect.mode": expected one of "rect", "random", "pca", got "rec" (did you mean "rect"?)',
    'field "methods[2]": expected a method name or a mapping',
    'field "mode.sequential": expected true or false, got "yes"',
    'field "mode.batch_sizes[1]": expected a positive integer, got -3',
    'field "mode.checkpoints[1]": expected a non-negative integer, got "x"',
    'field "data.file": expected a non-empty string, got ""',
    'field "data.begin": expected a non-negative integer, got -1',
    'field "data.step": expected a positive integer, got 0',
    'field "data.end": expected a positive integer, got 2.5',
    'field "tasks.names[1]": expected one of "gsm8k"',
    'field "tasks.limit": expected a positive integer, got 0',
    'field "tasks.scorer": expected one of "paper", "clean", "both", got "papr" (did you mean "paper"?)',
    'field "tasks.batch_size": expected a positive integer, got 0',
    'field "metrics.enabled": expected true or false, got 1',
    'field "metrics.order": expected one of "post-each", "post-all", got "single"',
    'field "seeds.edit": expected a non-negative integer, got -1',
    'field "seeds.tasks": expected a non-negative integer, got 1.5',
    'field "quirks.drop_incomplete_chunk": expected true or false, got "true"',
  ];
  for (const e of expect) assert.ok(msg.includes(e), `missing ${JSON.stringify(e)} in:\n${msg}`);
  assert.equal(lines.length, expect.length, msg);
});

test('one bad field gives one line in the documented form', () => {
  const raw = minimal();
  raw['mode'] = { sequential: true, batch_sizes: [1, -3], checkpoints: [0, 5] };
  assert.equal(errorOf(raw), 'study.yaml: field "mode.batch_sizes[1]": expected a positive integer, got -3');
});

test('unknown fields are errors with a "did you mean" for near names', () => {
  const raw = { ...minimal(), metric: {}, mode: { sequential: true, batch_size: [1], checkpoints: [0, 5] } };
  const msg = errorOf(raw);
  assert.match(msg, /unknown field "metric" \(did you mean "metrics"\?\)/);
  assert.match(
    msg,
    /unknown field "mode.batch_size" \(did you mean "mode.batch_sizes"\?\); known: sequential, batch_sizes, checkpoints/,
  );
  assert.match(errorOf({ ...minimal(), data: { file: 'f', beginIndex: 1 } }), /unknown field "data.beginIndex"/);
  assert.match(
    errorOf({ ...minimal(), tasks: { batchSize: 2 } }),
    /unknown field "tasks.batchSize" \(did you mean "tasks.batch_size"\?\)/,
  );
  assert.match(errorOf({ ...minimal(), zzz: 1 }), /unknown field "zzz"; known: name, model/);
});

test('missing required fields and a non-mapping study', () => {
  const msg = errorOf({ name: 'x' });
  for (const f of ['model', 'methods', 'mode', 'data'])
    assert.ok(msg.includes(`missing required field "${f}"`), `${f} missing in:\n${msg}`);
  assert.match(errorOf({ ...minimal(), mode: { sequential: true } }), /missing required field "mode.checkpoints"/);
  assert.match(errorOf({ ...minimal(), methods: [] }), /field "methods": expected at least one method/);
  assert.match(errorOf([1, 2]), /^study.yaml: a study must be a mapping/);
  assert.match(errorOf(null), /a study must be a mapping/);
});

test('checkpoints: ascending, unique, one above 0; single studies take none', () => {
  const withMode = (mode: unknown): Record<string, unknown> => ({ ...minimal(), mode });
  assert.match(
    errorOf(withMode({ sequential: true, checkpoints: [0, 5, 5] })),
    /field "mode.checkpoints\[2\]": checkpoints must be ascending/,
  );
  assert.match(errorOf(withMode({ sequential: true, checkpoints: [5, 2] })), /mode.checkpoints\[1\]/);
  assert.match(errorOf(withMode({ sequential: true, checkpoints: [0] })), /needs a checkpoint above 0/);
  assert.match(errorOf(withMode({ sequential: true, batch_sizes: [2, 2], checkpoints: [1] })), /batch size 2 appears twice/);
  const single = { ...minimal(), methods: ['memit'], mode: { sequential: false, batch_sizes: [1, 10], checkpoints: [1] } };
  assert.match(errorOf(single), /field "mode.checkpoints": a single-edit study has no checkpoints/);
  const ok = parseStudy({ ...single, mode: { sequential: false, batch_sizes: [1, 10] } }, 'x');
  assert.deepEqual(ok.mode, { sequential: false, batch_sizes: [1, 10], checkpoints: [] });
  // 0 is optional (weight-change studies start at 1)
  assert.deepEqual(parseStudy(withMode({ sequential: true, checkpoints: [1, 5] }), 'x').mode.checkpoints, [1, 5]);
});

test('one-request methods refuse batch sizes above 1, naming the method', () => {
  for (const method of ['rome', 'r-rome', 'kn']) {
    const raw = {
      ...minimal(),
      methods: ['memit', method],
      mode: { sequential: true, batch_sizes: [1, 10], checkpoints: [0, 2] },
    };
    const msg = errorOf(raw);
    assert.match(msg, new RegExp(`field "methods\\[1\\].method": ${method.toUpperCase()} edits one request at a time`));
    assert.doesNotMatch(msg, /methods\[0\]/);
  }
});

test('SINGLE_REQUEST_METHODS matches the methods that are not batchable', async () => {
  for (const name of METHOD_NAMES) {
    const m = await getMethod(name);
    assert.equal(SINGLE_REQUEST_METHODS.includes(name), !m.batchable, name);
  }
});

test('variant names: unique, file-safe; hparams and preset exclusive', () => {
  assert.match(
    errorOf({ ...minimal(), methods: ['rome', { method: 'rome', rect: 0.4 }, { method: 'rome', rect: 0.4 }] }),
    /field "methods\[2\].name": variant name "ROME\+RECT-40%" is already used by methods\[1\]/,
  );
  assert.match(
    errorOf({ ...minimal(), methods: [{ method: 'rome', name: 'a/b' }] }),
    /field "methods\[0\].name": "a\/b" cannot name files/,
  );
  assert.match(errorOf({ ...minimal(), methods: [{ method: 'rome', name: ' x' }] }), /cannot name files/);
  assert.match(
    errorOf({ ...minimal(), methods: [{ method: 'rome', hparams: 'h.yaml', preset: 'gpt2-xl' }] }),
    /field "methods\[0\].preset": give either hparams/,
  );
  const s = parseStudy({ ...minimal(), methods: [{ method: 'rome', preset: 'gpt2-xl/original', name: 'ROME (kmeng01)' }] }, 'x');
  assert.deepEqual(s.methods[0], { name: 'ROME (kmeng01)', method: 'rome', preset: 'gpt2-xl/original' });
});

test('data.end must leave the edits the study needs; legacy_sequential_bug only for Instance-Sequential', () => {
  const raw = { ...minimal(), methods: ['memit'], mode: { sequential: true, batch_sizes: [2, 3], checkpoints: [0, 4] } };
  assert.match(
    errorOf({ ...raw, data: { file: 'f', begin: 10, end: 30, step: 2 } }),
    /field "data.end": the slice \[10:30:2\] holds 10 edit\(s\) but the study needs 12/,
  );
  assert.equal(parseStudy({ ...raw, data: { file: 'f', begin: 10, end: 33, step: 2 } }, 'x').data.end, 33);
  assert.match(
    errorOf({ ...raw, data: { file: 'f', begin: 10, end: 10 } }),
    /field "data.end": expected an index above data.begin \(10\)/,
  );
  assert.match(errorOf({ ...raw, quirks: { legacy_sequential_bug: true } }), /field "quirks.legacy_sequential_bug"/);
  const single = { ...minimal(), mode: { sequential: false, batch_sizes: [1] }, quirks: { legacy_sequential_bug: true } };
  assert.match(errorOf(single), /legacy_sequential_bug/);
  assert.equal(parseStudy({ ...minimal(), quirks: { legacy_sequential_bug: true } }, 'x').quirks.legacy_sequential_bug, true);
});

test('studyToYaml round-trips through parseStudy', () => {
  const s = parseStudy(
    {
      name: 'full.study-1',
      model: { path: '/models/llama', dtype: 'bfloat16' },
      methods: [
        { method: 'memit', hparams: 'h/memit.yaml' },
        { method: 'memit', preset: 'gpt2-xl/original', rect: { keep: 0.25, mode: 'random' }, name: 'M r' },
        { method: 'ft-l', rect: 0.4 },
      ],
      mode: { sequential: true, batch_sizes: [10, 3], checkpoints: [0, 1, 7] },
      data: { file: 'counterfact/counterfact-edit.json', begin: 5, end: 500, step: 3 },
      tasks: { names: ['sst2', 'gsm8k'], limit: 20, scorer: 'clean', batch_size: 2 },
      metrics: { enabled: false, order: 'post-all' },
      seeds: { edit: 3, tasks: 4 },
      quirks: { legacy_sequential_bug: false, legacy_batch_chunking: true, drop_incomplete_chunk: true },
    },
    'x',
  );
  const text = studyToYaml(s);
  assert.deepEqual(parseStudy(parseYaml(text), 'again'), s);
  assert.match(text, /batch_sizes: \[10, 3\]/);
  const min = parseStudy(minimal(), 'x');
  assert.deepEqual(parseStudy(parseYaml(studyToYaml(min)), 'again'), min);
});

test('readStudyFile: YAML and JSON, errors name the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmedit-study-'));
  try {
    const yamlPath = join(dir, 's.yaml');
    writeFileSync(yamlPath, studyToYaml(parseStudy(minimal(), 'x')));
    assert.equal(readStudyFile(yamlPath).name, 'tiny');
    const jsonPath = join(dir, 's.json');
    writeFileSync(jsonPath, JSON.stringify(minimal()));
    assert.equal(readStudyFile(jsonPath).methods[0]!.name, 'ROME');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'name: x\nmode: [unclosed\n');
    assert.throws(() => readStudyFile(bad), new RegExp(`^Error: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid YAML`));
    writeFileSync(bad, 'name: x\n');
    assert.throws(
      () => readStudyFile(bad),
      (e: Error) => e.message.startsWith(`${bad}: missing required field "model"`),
    );
    assert.throws(() => readStudyFile(join(dir, 'none.yaml')), /none\.yaml: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the example in docs/studies.md is a valid study', () => {
  const md = readFileSync(new URL('../../docs/studies.md', import.meta.url), 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(md);
  assert.ok(block, 'docs/studies.md has a yaml block');
  const s = parseStudy(parseYaml(block[1]!), 'docs/studies.md');
  assert.deepEqual(
    s.methods.map((m) => m.name),
    ['ROME', 'ROME+RECT-40%', 'ROME+Random-40%', 'ROME+PCA-40%', 'ROME (kmeng01 settings)'],
  );
  assert.deepEqual(s.tasks.names, [...TASK_NAMES]);
});

test("world studies: a world model's tasks (clean scorer only, never mixed with the paper's), probes, data.file world", () => {
  const s = parseStudy(
    { ...minimal(), data: { file: 'world' }, tasks: { names: 'world' }, probes: { unrelated_recall: true } },
    'x',
  );
  assert.deepEqual(s.tasks.names, ['reasoning', 'nli', 'qa-open', 'qa-yesno', 'sentiment', 'ner', 'dialogue']);
  assert.equal(s.tasks.scorer, 'clean', 'world tasks default to the clean scorer');
  assert.deepEqual(s.probes, { unrelated_recall: true, perplexity: false });
  assert.deepEqual(parseStudy(parseYaml(studyToYaml(s)), 'again'), s);
  assert.deepEqual(parseStudy({ ...minimal(), tasks: { names: ['ner', 'sentiment'] } }, 'x').tasks.names, ['ner', 'sentiment']);
  assert.equal(parseStudy(minimal(), 'x').tasks.scorer, 'both', "the paper's tasks keep both scorers");
  assert.match(
    errorOf({ ...minimal(), tasks: { names: ['sst2', 'sentiment'] } }),
    /field "tasks.names": mixes the paper's tasks/,
  );
  assert.match(
    errorOf({ ...minimal(), tasks: { names: ['ner'], scorer: 'paper' } }),
    /field "tasks.scorer": world tasks have only the clean scorer/,
  );
  assert.match(errorOf({ ...minimal(), probes: { perplexity: 'yes' } }), /field "probes.perplexity"/);
  assert.match(
    errorOf({ ...minimal(), probes: { recall: true } }),
    /unknown field "probes.recall"; known: unrelated_recall, perplexity/,
  );
});

test('PRUNE variants: shorthands and mappings, names, the YAML round trip, bad values named', () => {
  const s = parseStudy(
    {
      ...minimal(),
      methods: [
        { method: 'rome', prune: true },
        { method: 'rome', prune: 'log2' },
        { method: 'memit', prune: 'linear' },
        { method: 'rome', rect: 0.4, prune: { restraint: 'log', base: 1.2, rank_truncate: false } },
        { method: 'alphaedit' },
        { method: 'emmet' },
      ],
    },
    'study.yaml',
  );
  assert.deepEqual(
    s.methods.map((m) => m.name),
    ['ROME+PRUNE', 'ROME+PRUNE-log2', 'MEMIT+PRUNE-linear', 'ROME+RECT-40%+PRUNE-log1.2-full', 'AlphaEdit', 'EMMET'],
  );
  assert.deepEqual(s.methods[0]!.prune, { restraint: 'log', base: Math.E, rank_truncate: true });
  assert.deepEqual(parseStudy(parseYaml(studyToYaml(s)), 'again.yaml'), s);
  assert.match(
    errorOf({ ...minimal(), methods: [{ method: 'rome', prune: 'log3' }] }),
    /methods\[0\]\.prune.*log, log2, log1\.5, log1\.2, linear/,
  );
  assert.match(
    errorOf({ ...minimal(), methods: [{ method: 'rome', prune: { base: 0.5 } }] }),
    /methods\[0\]\.prune\.base.*a log base > 1/,
  );
  assert.match(
    errorOf({ ...minimal(), methods: [{ method: 'rome', prune: { kind: 'log' } }] }),
    /unknown field "methods\[0\]\.prune\.kind"/,
  );
});
