/**
 * Random models for tests: any architecture from a config.json-style object, built in memory
 * (no checkpoint), with norm weights 1 + N(0, 0.1) and every other tensor N(0, std).
 */
import * as T from '../tensor/index.js';
import { normalizeConfig } from './config.js';
import { ARCHITECTURES } from './registry.js';
import type { CausalLM } from './types.js';

/**
 * @example const model = randomModel({ model_type: 'gpt2', vocab_size: 29, n_embd: 12, n_layer: 2, n_head: 2 }, { std: 0.3 });
 */
export function randomModel(
  config: Record<string, unknown>,
  opts: { std?: number; dtype?: 'float32' | 'float64'; seed?: number } = {},
): CausalLM {
  const cfg = normalizeConfig(config, `${String(config['model_type'])} test config`);
  const def = ARCHITECTURES[cfg.arch];
  const dtype = opts.dtype ?? 'float32';
  const rng = new T.Rng(opts.seed ?? 1);
  const params = new Map<string, T.Tensor>();
  for (const name of def.paramNames(cfg)) {
    const shape = def.shapeOf(cfg, name);
    const isNorm = /(ln_\d|ln_f|norm|layernorm)\.weight$/.test(name);
    const t = T.keep(
      isNorm ? T.add(T.ones(shape, dtype), rng.normal(shape, 0.1, 0, dtype)) : rng.normal(shape, opts.std ?? 0.3, 0, dtype),
    );
    t.name = name;
    params.set(name, t);
  }
  return def.create(cfg, params);
}
