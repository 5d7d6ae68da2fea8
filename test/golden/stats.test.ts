/**
 * Layer statistics C = E[k kᵀ] against the PyTorch goldens: ROME cov cases (`C`) and MEMIT
 * (`layer{l}/C`, both layers in one corpus pass), with the goldens' WikiText recipe; the
 * recipe's token ids must equal the stored `cov_token_ids` exactly.
 * Tolerance: max |ΔC| ≤ 1e-5 · max |C|. C averages 2000 float32 products per entry; our gemm sums
 * them in another order than PyTorch's, and the keys themselves differ from PyTorch's by float32
 * rounding (forward goldens: ≤ 7e-7 relative), so ~1e-6 relative is expected (observed ≤ 3e-7;
 * the goldens' own float32-vs-float64 gap is ≤ 5.8e-7). 1e-5 keeps a margin without hiding a
 * wrong token, position or layer, which changes C at the 1e-2 level.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import type { Tensor } from '../../src/tensor/index.js';
import { loadModel } from '../../src/models/load.js';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';
import { moduleAt } from '../../src/edit/hparams.js';
import { corpusTokenIds, createStatsProvider, goldenCovRecipe, resolveCorpus } from '../../src/edit/stats/index.js';
import { compare, goldenTensors, modelDir, readJson, sharedPath, skipNoShared } from './shared.js';

const RTOL = 1e-5;
const wikitext = (): string => sharedPath('data', 'wikitext', 'wikitext-2-raw-test.raw');

async function tokenizerFor(name: string): Promise<Tokenizer> {
  try {
    return await loadTokenizer(modelDir(name));
  } catch {
    return loadTokenizer(dirname(modelDir(name))); // stories260K: tok512.bin beside hf/
  }
}

function checkC(label: string, got: Tensor, want: Tensor, diag: (m: string) => void): void {
  assert.deepEqual(got.shape, want.shape, `${label}: shape`);
  const { maxAbs, maxRef } = compare(got.toArray(), want.toArray());
  diag(`${label}: max |ΔC| ${maxAbs.toExponential(2)}, max |C| ${maxRef.toFixed(3)}, rel ${(maxAbs / maxRef).toExponential(2)}`);
  assert.ok(maxAbs <= RTOL * maxRef, `${label}: max |ΔC| ${maxAbs.toExponential(3)} > ${RTOL} · ${maxRef.toFixed(4)}`);
}

const CASES: { golden: string; model: string }[] = [
  { golden: 'rome/tiny-gpt2/cov', model: 'tiny-gpt2' },
  { golden: 'rome/tiny-llama/cov', model: 'tiny-llama' },
  { golden: 'rome/stories260K/cov', model: 'stories260K' },
  { golden: 'memit/tiny-gpt2', model: 'tiny-gpt2' },
  { golden: 'memit/tiny-gpt2-lambda50', model: 'tiny-gpt2' },
  { golden: 'memit/tiny-llama', model: 'tiny-llama' },
];

for (const c of CASES) {
  describe(`stats golden: ${c.golden}`, { skip: skipNoShared }, () => {
    test('recipe token ids equal cov_token_ids; C within rtol 1e-5 of max', async (t) => {
      const g = goldenTensors('reference', c.golden, 'golden.safetensors');
      const meta = readJson<{ layer?: number }>('reference', c.golden, 'golden.json');
      const model = loadModel(modelDir(c.model));
      const tokenizer = await tokenizerFor(c.model);
      const recipe = goldenCovRecipe(wikitext());

      const ids = corpusTokenIds(resolveCorpus(recipe, model, null), tokenizer);
      assert.deepEqual(ids, g.get('cov_token_ids')!.toArray());

      // ROME: `C` at the case's layer; MEMIT: `layer{l}/C` for every edited layer, one pass
      const layers =
        meta.layer !== undefined ? [meta.layer] : [...g.keys()].flatMap((k) => /^layer(\d+)\/C$/.exec(k)?.[1] ?? []).map(Number);
      assert.ok(layers.length > 0);
      const targets = layers.map((layer) => ({ layer, moduleName: moduleAt(model.arch.mlpOutTemplate, layer) }));
      const stats = createStatsProvider({ corpus: recipe, tokenizer, cacheDir: false, progress: false });
      stats.prefetch(model, targets);
      for (const { layer, moduleName } of targets) {
        const C = stats.secondMoment(model, layer, moduleName);
        assert.equal(C.dtype, 'float32');
        checkC(`${c.golden} layer ${layer}`, C, g.get(meta.layer !== undefined ? 'C' : `layer${layer}/C`)!, (m) =>
          t.diagnostic(m),
        );
      }
      stats.dispose();
      model.dispose();
      g.forEach((x) => x.dispose());
    });
  });
}
