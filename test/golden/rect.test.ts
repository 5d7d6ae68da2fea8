/**
 * RECT goldens: our rect() on the stored W and ΔW of every rect/<model>/{nocov,cov} case must
 * keep exactly the golden's set and values (keep 40 % and 20 %), and report its k-th/next ratios.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { goldenTensors, readJson, sharedPath, skipNoShared } from './shared.js';
import { rect } from '../../src/edit/rect/index.js';

interface RectGolden {
  stats: Record<
    string,
    { keep_pct: number; numel: number; keep_count: number; kth_ratio: number; next_ratio: number; relative_gap: number }
  >;
}

const cases: string[] = [];
if (!skipNoShared) {
  const root = sharedPath('reference', 'rect');
  for (const model of existsSync(root) ? readdirSync(root).sort() : []) {
    for (const kind of ['nocov', 'cov'])
      if (existsSync(sharedPath('reference', 'rect', model, kind, 'golden.json'))) cases.push(`${model}/${kind}`);
  }
}

describe('RECT goldens', { skip: skipNoShared }, () => {
  test('there are rect cases', () => assert.ok(cases.length >= 6, `found ${cases.length} cases`));
  for (const c of cases) {
    test(`rect/${c}`, () => {
      const g = readJson<RectGolden>('reference', 'rect', c, 'golden.json');
      const ts = goldenTensors('reference', 'rect', c, 'golden.safetensors');
      const W = ts.get('W')!;
      const dW = ts.get('delta_W')!;
      for (const pct of [40, 20]) {
        const gs = g.stats[`keep${pct}`]!;
        const r = rect(dW, W, pct / 100);
        const mask = r.mask.storage as Uint8Array;
        const want = ts.get(`mask_keep${pct}`)!.storage as Uint8Array;
        let diff = 0;
        for (let i = 0; i < want.length; i++) if (mask[i] !== want[i]) diff++;
        assert.equal(diff, 0, `${c} keep${pct}: ${diff} mask entries differ`);
        const got = r.deltaW.storage as Float32Array;
        const wantV = ts.get(`delta_W_rect_keep${pct}`)!.storage as Float32Array;
        for (let i = 0; i < wantV.length; i++)
          if (!Object.is(got[i], wantV[i]) && got[i] !== wantV[i])
            assert.fail(`${c} keep${pct}: value ${i} ${got[i]} vs ${wantV[i]}`);
        assert.equal(r.stats.keepCount, gs.keep_count);
        assert.equal(r.stats.numel, gs.numel);
        assert.equal(r.stats.kthRatio, gs.kth_ratio);
        assert.equal(r.stats.nextRatio, gs.next_ratio);
        assert.ok(Math.abs(r.stats.relativeGap! - gs.relative_gap) <= 1e-12 * gs.relative_gap);
        r.deltaW.dispose();
        r.mask.dispose();
      }
    });
  }
});
