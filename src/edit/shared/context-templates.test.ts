/**
 * Context-template sampling on tiny-gpt2 (../shared): deterministic per seed, the shape of each
 * recipe (README.md, "Context templates"), caching, and explicit templates.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../models/load.js';
import type { CausalLM } from '../../models/types.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizer/index.js';
import { modelDir, skipNoShared } from '../../testing.js';
import { asGroups, clearContextTemplateCache, contextTemplates } from './context-templates.js';

describe('context templates', { skip: skipNoShared }, () => {
  let model: CausalLM;
  let tok: Tokenizer;
  const load = async (): Promise<void> => {
    model ??= loadModel(modelDir('tiny-gpt2'));
    tok ??= await loadTokenizer(modelDir('tiny-gpt2'));
  };

  test('rome-easyedit: "{}" + 20 brace-free samples ending in ". {}"; same seed, same templates', async () => {
    await load();
    const a = contextTemplates(model, tok, 'rome-easyedit', { seed: 3 });
    clearContextTemplateCache(model);
    const b = contextTemplates(model, tok, 'rome-easyedit', { seed: 3 });
    assert.deepEqual(a, b, 'deterministic per seed (re-sampled after clearing the cache)');
    assert.deepEqual(a[0], ['{}']);
    assert.equal(a[1]!.length, 20);
    for (const t of a[1]!) {
      assert.ok(t.endsWith('. {}'), t);
      assert.equal(t.indexOf('{'), t.length - 2, `only the slot's braces: ${JSON.stringify(t)}`);
    }
    // per length: two samples from each seed word, in order
    const words = ['The', 'Therefore', 'Because', 'I', 'You'];
    a[1]!.forEach((t, i) =>
      assert.ok(t.startsWith(words[Math.floor(i / 2) % 5]!), `${t} starts with ${words[Math.floor(i / 2) % 5]}`),
    );
    const c = contextTemplates(model, tok, 'rome-easyedit', { seed: 4 });
    assert.notDeepEqual(c, a, 'another seed samples other text');
  });

  test('rome-original starts from <|endoftext|>; memit gives groups [["{}"], 5 templates]', async () => {
    await load();
    const o = contextTemplates(model, tok, 'rome-original', { seed: 0, lengthParams: [[5, 3]] });
    assert.equal(o[1]!.length, 3);
    for (const t of o[1]!) assert.ok(!t.includes('<|endoftext|>') && t.endsWith('. {}'), t);
    const m = contextTemplates(model, tok, 'memit', { seed: 0 });
    assert.deepEqual(
      m.map((g) => g.length),
      [1, 5],
    );
    const words = ['The', 'Therefore', 'Because', 'I', 'You'];
    m[1]!.forEach((t, i) => assert.ok(t.startsWith(words[i]!), `${t} starts with ${words[i]}`));
    assert.deepEqual(contextTemplates(model, tok, 'memit', { seed: 0 }), m, 'cached');
  });

  test('explicit templates: a flat list is one group; a template without {} is an error', () => {
    assert.deepEqual(asGroups(['{}', 'a. {}']), [['{}', 'a. {}']]);
    assert.deepEqual(asGroups([['{}'], ['a. {}', 'b. {}']]), [['{}'], ['a. {}', 'b. {}']]);
    assert.throws(() => asGroups(['{}', 'no slot']), /has no \{\}/);
    assert.throws(() => asGroups([]), /empty/);
  });
});
