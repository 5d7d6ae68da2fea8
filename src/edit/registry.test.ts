/**
 * The method registry: every CLI name loads a method whose `name` is that CLI name in upper
 * case (the runner looks `needsSubject` up by `EditMethod.name`), and the runner checks the
 * subject only for the methods that locate it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getMethod, METHOD_NAMES, methodNeedsSubject } from './registry.js';
import { runEdits } from './runner.js';
import type { EditMethod, EditRequest, EditResult } from './types.js';
import type { CausalLM } from '../models/types.js';
import type { Tokenizer } from '../tokenizer/index.js';

test('every registered method loads under its own name', async () => {
  assert.deepEqual([...METHOD_NAMES].sort(), ['alphaedit', 'emmet', 'ft-l', 'ft-m', 'kn', 'memit', 'mend', 'r-rome', 'rome']);
  for (const key of METHOD_NAMES) {
    const method = await getMethod(key);
    assert.equal(method.name.toLowerCase(), key);
  }
});

test('needsSubject: the locate-then-edit methods (ROME, R-ROME, MEMIT, EMMET, AlphaEdit); unregistered names need none', () => {
  const needing = METHOD_NAMES.filter(methodNeedsSubject).sort();
  assert.deepEqual(needing, ['alphaedit', 'emmet', 'memit', 'r-rome', 'rome']);
  assert.equal(methodNeedsSubject('ROME'), true);
  assert.equal(methodNeedsSubject('R-ROME'), true);
  assert.equal(methodNeedsSubject('AlphaEdit'), true);
  assert.equal(methodNeedsSubject('FT-M'), false);
  assert.equal(methodNeedsSubject('PMET'), false);
});

test('runEdits checks the subject through the registry flag', () => {
  const fake = (name: string): EditMethod<null> => ({
    name,
    batchable: true,
    parseHParams: () => null,
    presets: {},
    apply: (): EditResult => ({
      method: name,
      deltas: new Map(),
      requests: [],
      timings: { total: 0 },
      applied: false,
      restore() {},
      dispose() {},
      [Symbol.dispose]() {},
    }),
  });
  const req: EditRequest = { prompt: 'The capital of France is', subject: 'Paris', target_new: 'Rome' };
  const model = {} as CausalLM;
  const ctx = { tokenizer: {} as Tokenizer };
  assert.throws(() => runEdits(model, fake('ROME'), [req], null, ctx), /subject/);
  assert.throws(() => runEdits(model, fake('MEMIT'), [req], null, ctx), /subject/);
  assert.equal(runEdits(model, fake('FT-M'), [req], null, ctx).edits, 1);
  assert.equal(runEdits(model, fake('KN'), [req], null, ctx).edits, 1);
});
