/**
 * Child process of bench/models.ts: `write DIR` writes a GPT-2-XL-shaped checkpoint (random
 * fp32 matrices) to DIR; `run DIR DTYPE QUICK` loads it with that storage dtype, generates,
 * and prints the peak RSS. Separate processes so each peak is measured alone.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/tensor/index.js';
import { saveSafetensors } from '../src/io/safetensors.js';
import { loadModel, type WeightDTypeOption } from '../src/models/load.js';
import { generate } from '../src/models/generate.js';
import { gpt2Config, randomGpt2 } from './models.js';

const [mode, dir, dtype, quick] = process.argv.slice(2);
if (mode === 'write') {
  const m = randomGpt2(48, 1600, 25, 7);
  saveSafetensors(join(dir!, 'model.safetensors'), m.params, { format: 'pt' });
  writeFileSync(join(dir!, 'config.json'), JSON.stringify(gpt2Config(48, 1600, 25)));
} else if (mode === 'run') {
  const t0 = Date.now();
  const model = loadModel(dir!, { dtype: dtype as WeightDTypeOption });
  const loadS = (Date.now() - t0) / 1000;
  const rssLoad = process.resourceUsage().maxRSS / 1e6;
  const t1 = Date.now();
  const prompts = Array.from({ length: 8 }, (_, b) => Array.from({ length: 32 }, (_, i) => (b * 131 + i * 7) % 50000));
  const n = quick === '1' ? 4 : 16;
  generate(model, prompts, { maxNewTokens: n, eosTokenId: null });
  const genS = (Date.now() - t1) / 1000;
  const rss = process.resourceUsage().maxRSS / 1e6; // KB -> GB
  const weights = [...model.params.values()].reduce((s, t) => s + t.size * (t.dtype === 'float32' ? 4 : 2), 0) / 1e9;
  console.log(
    JSON.stringify({
      name: `gpt2-xl-shaped peak RSS (load + generate 8x${n}) ${dtype}`,
      value: rss,
      unit: 'GB',
      rss_after_load_gb: rssLoad,
      weights_gb: weights,
      load_s: loadS,
      generate_s: genS,
      target: dtype === 'float32' ? '<= 8 GB' : 'about half of float32',
    }),
  );
  void T;
} else {
  throw new Error('usage: memory-child.ts write DIR | run DIR DTYPE QUICK');
}
