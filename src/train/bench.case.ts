/**
 * Training throughput on this machine: full optimizer steps (forward, backward, clipping, AdamW)
 * of small GPT-2/LLaMA models on fixed-shape batches (packed random tokens) and on short
 * length-grouped facts, timed after a warm-up.
 * `node --import tsx src/train/bench.case.ts [seconds-per-config]`
 */
import * as T from '../tensor/index.js';
import { smallModelConfig, type SmallModelSpec } from './init.js';
import { train } from './train.js';

interface Case {
  spec: Omit<SmallModelSpec, 'vocabSize' | 'maxPositions'>;
  batchSize: number;
  /** 'pack': random text cut in rows of 32; 'facts': documents of 8–24 tokens, one per row */
  data: 'pack' | 'facts';
}

const seconds = Number(process.argv[2] ?? 20);
const V = 800;
const rng = new T.Rng(5);
const text = [Array.from({ length: 200_000 }, () => 3 + rng.nextInt(V - 3))];
const facts = Array.from({ length: 4000 }, () => Array.from({ length: 8 + rng.nextInt(17) }, () => 3 + rng.nextInt(V - 3)));

const cases: Case[] = [
  { spec: { arch: 'gpt2', hiddenSize: 128, numLayers: 2, numHeads: 4 }, batchSize: 32, data: 'pack' },
  { spec: { arch: 'gpt2', hiddenSize: 128, numLayers: 2, numHeads: 4 }, batchSize: 32, data: 'facts' },
  { spec: { arch: 'llama', hiddenSize: 128, numLayers: 2, numHeads: 4 }, batchSize: 32, data: 'facts' },
  { spec: { arch: 'gpt2', hiddenSize: 256, numLayers: 4, numHeads: 8 }, batchSize: 64, data: 'pack' },
  { spec: { arch: 'gpt2', hiddenSize: 256, numLayers: 4, numHeads: 8 }, batchSize: 64, data: 'facts' },
];

console.log(`backend: ${JSON.stringify(T.getBackend().info())}`);
for (const c of cases) {
  const config = smallModelConfig({ ...c.spec, vocabSize: V, maxPositions: 64, bosTokenId: 1, eosTokenId: 2 });
  let mark: number | null = null;
  const warmup = 5;
  const ctl = new AbortController();
  const r = await train({
    config,
    documents: c.data === 'pack' ? text : facts,
    packing: c.data === 'pack' ? 'pack' : 'pad',
    seqLen: 32,
    steps: 100_000,
    batchSize: c.batchSize,
    progressEvery: 1,
    signal: ctl.signal,
    onProgress: (p) => {
      if (p.step === warmup) mark = performance.now();
      if (mark !== null && (performance.now() - mark) / 1000 > seconds) ctl.abort();
    },
  });
  const params = [...r.model.params.values()].reduce((a, p) => a + p.size, 0);
  const steps = r.step - warmup;
  const secs = (performance.now() - mark!) / 1000;
  const perStep = r.tokensSeen / r.step;
  console.log(
    `${c.spec.arch} d=${c.spec.hiddenSize} L=${c.spec.numLayers} (${(params / 1e6).toFixed(2)}M params) batch ${c.batchSize} ` +
      `${c.data === 'pack' ? 'seq 32 packed' : 'facts 8-24 tokens, padded'}: ${((steps * perStep) / secs).toFixed(0)} tokens/s, ` +
      `${((secs / steps) * 1000).toFixed(0)} ms/step`,
  );
  r.model.dispose();
}
