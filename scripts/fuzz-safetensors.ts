#!/usr/bin/env node
// Long fuzzing run of the safetensors reader (the test runs a few thousand iterations).
// Usage: node --import tsx scripts/fuzz-safetensors.ts [iterations=100000] [seed=random]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSafetensorsFuzz } from '../src/io/safetensors.fuzz.case.js';

const iterations = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isSafeInteger(iterations) || iterations <= 0 || !Number.isSafeInteger(seed)) {
  console.error('usage: node --import tsx scripts/fuzz-safetensors.ts [iterations] [seed]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'lmedit-fuzz-'));
console.log(`fuzzing ${iterations} files, seed ${seed}, in ${dir}`);
let failed = false;
try {
  const batch = 10_000;
  let total = 0;
  let loaded = 0;
  let slowest = 0;
  for (let b = 0; total < iterations; b++) {
    const r = runSafetensorsFuzz({ iterations: Math.min(batch, iterations - total), seed: seed + b, dir });
    total += r.iterations;
    loaded += r.loaded;
    slowest = Math.max(slowest, r.slowestMs);
    console.log(`${total} / ${iterations}: ${loaded} loaded, ${total - loaded} rejected, slowest ${slowest.toFixed(1)} ms`);
  }
  console.log('no contract violations');
} catch (e) {
  failed = true;
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
} finally {
  // keep the directory (and the failing file) when something broke
  if (!failed) rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
