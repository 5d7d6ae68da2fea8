/**
 * Fuzzes the safetensors reader with thousands of mutated files (bit flips, truncations, header
 * edits): only success or a SafetensorsError naming the file, bounded allocation, bounded time.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSafetensorsFuzz } from './safetensors.fuzz.case.js';

const ITERATIONS = Number(process.env['LMEDIT_FUZZ_ITERATIONS'] ?? 4000);
const dir = mkdtempSync(join(tmpdir(), 'lmedit-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('safetensors fuzz', () => {
  test(
    `${ITERATIONS} mutated files: named errors or success, never a crash, a hang or an oversized allocation`,
    { timeout: 60_000 },
    () => {
      const t0 = performance.now();
      const r = runSafetensorsFuzz({ iterations: ITERATIONS, seed: 20240601, dir, timeBudgetMs: 15_000 });
      const elapsed = performance.now() - t0;
      assert.ok(elapsed < 20_000, `fuzzing took ${elapsed.toFixed(0)} ms`);
      // the time budget may cut the run short on a slow machine, but not by much
      assert.ok(r.iterations >= Math.min(ITERATIONS, 1000), `only ${r.iterations} iterations ran`);
      assert.ok(r.maxAllocRatio <= 2, `allocated ${r.maxAllocRatio}x the file size`);
      // the mutations must exercise both outcomes, and each mutator must reject something
      assert.ok(r.loaded > r.iterations * 0.03, `only ${r.loaded} loads succeeded`);
      assert.ok(r.rejected > r.iterations * 0.3, `only ${r.rejected} files were rejected`);
      for (const [name, c] of Object.entries(r.byMutator)) assert.ok(c.rejected > 0, `mutator ${name} never produced a bad file`);
    },
  );
});
