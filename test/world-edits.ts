/**
 * Test support for editing a world model: the share of single edits that take, per method, with
 * each method's world preset (shared by the quick-model and default-model tests).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { defaultModelPath, lmeditHome } from '../src/train/default-model.js';
import { getMethod, resolveHParams } from '../src/edit/registry.js';
import type { LayerStatsProvider } from '../src/edit/stats/index.js';
import type { CausalLM } from '../src/models/index.js';
import type { Tokenizer } from '../src/tokenizer/index.js';
import { greedyRecall } from '../src/train/recall.js';
import type { EditRequest } from '../src/edit/types.js';

/**
 * Per method: the share of single edits that must take (target = greedy continuation). Measured on
 * six requests, world versions 3 and 4: 6/6 for ROME, R-ROME, MEMIT, EMMET, AlphaEdit, FT-L and
 * FT-M on the default model (the quick model's figures are printed by its test). KN takes 0/6
 * (version 3) and 1/6 (version 4): its attributed neurons do not carry world facts (docs/world.md,
 * "Editing the world model"), so KN is held only to editing the weights at all.
 */
export const METHOD_BARS: Record<string, number> = {
  rome: 0.8,
  'r-rome': 0.8,
  memit: 0.8,
  emmet: 0.8,
  alphaedit: 0.6, // measured: 6/6 on the default model, 5/6 on the quick one (its τ = 0.3 leaves fewer free directions)
  'ft-l': 0.8,
  'ft-m': 0.8,
};
export const EDIT_METHODS = ['rome', 'r-rome', 'memit', 'emmet', 'alphaedit', 'ft-l', 'ft-m', 'kn'] as const;

/** Per method, the share of `requests` (each edited alone, then restored) whose target the model then continues with. */
export async function methodShares(
  model: CausalLM,
  tokenizer: Tokenizer,
  stats: LayerStatsProvider,
  requests: readonly EditRequest[],
): Promise<Record<string, number>> {
  const enc = (s: string): number[] => tokenizer.encode(s, { addBos: false });
  const shares: Record<string, number> = {};
  for (const name of EDIT_METHODS) {
    const method = await getMethod(name);
    const { hp } = resolveHParams(method, model, { world: true });
    let ok = 0;
    for (const r of requests) {
      using res = method.apply(model, [r], hp, { tokenizer, seed: 0, stats });
      try {
        assert.ok(
          [...res.deltas.values()].some((d) => d.toArray().some((x) => x !== 0)),
          `${name} changed no weight`,
        );
        ok += greedyRecall(model, [{ prompt: enc(r.prompt), answer: enc(` ${r.target_new}`) }], {
          bosId: tokenizer.bosId,
        }).accuracy;
      } finally {
        res.restore();
      }
    }
    shares[name] = ok / requests.length;
  }
  return shares;
}

/** Asserts every method's share reaches its bar. */
export function assertShares(shares: Record<string, number>): void {
  for (const [name, bar] of Object.entries(METHOD_BARS))
    assert.ok(shares[name]! >= bar, `${name}: ${shares[name]} of edits took (bar ${bar})`);
}

/** The cached default model's folder, or null after skipping (or failing, when it is required). */
export function cachedDefaultModel(t: { skip(msg: string): void }): string | null {
  const dir = defaultModelPath();
  if (existsSync(dir)) return dir;
  const msg = `the default model is not cached in ${lmeditHome()} (\`npm run demo\` trains it once)`;
  if (process.env['LMEDIT_REQUIRE_DEFAULT_MODEL'] === '1') assert.fail(msg);
  t.skip(msg);
  return null;
}
