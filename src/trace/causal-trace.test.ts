/**
 * Causal tracing on the tiny reference models (GPT-2 and LLaMA layouts): the identities that hold
 * whatever the weights — restoring every position at a layer gives back the clean run, restoring
 * nothing the corrupted one, states before the subject change nothing (causal attention), no
 * noise means no effect — plus batching, seeding, an independent one-run-per-sample reference,
 * the figure, and `lmedit trace` as a user runs it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../tensor/index.js';
import { openModel, Trace, type CausalLM, type OutputEdit } from '../models/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { encodeTarget, promptEncoding } from '../edit/shared/subject-index.js';
import { modelDir, skipNoShared } from '../testing.js';
import {
  causalTrace,
  cellStates,
  CorruptedRuns,
  embeddingStd,
  subjectTokenRange,
  traceFigureSpec,
  traceFigureSvg,
  windowLayers,
  type RestoredState,
  type RestoreSet,
} from './index.js';

const PROMPT = 'Once upon a time, Lily went to the park';
const SUBJECT = 'Lily';

const relDiff = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
/**
 * Two float32 forwards of the same rows in batches of other sizes: OpenBLAS kernels round by
 * block shape (1.3e-6 relative seen with OPENBLAS_CORETYPE=Haswell), so batch-composition
 * comparisons hold to this, not bit for bit.
 */
const BATCH_TOL = 1e-5;

test('window of layers: the original range(max(0, l - w // 2), min(L, l - (-w // 2)))', () => {
  assert.deepEqual(windowLayers(48, 0, 10), [0, 5]);
  assert.deepEqual(windowLayers(48, 20, 10), [15, 25]);
  assert.deepEqual(windowLayers(48, 47, 10), [42, 48]);
  assert.deepEqual(windowLayers(48, 7, 1), [7, 8]);
  assert.deepEqual(windowLayers(48, 7, 3), [6, 9]);
  assert.deepEqual(windowLayers(4, 2, 10), [0, 4]);
});

/** p(answer) with `states` restored, one corrupted run per sample with plain array edits: an independent reference. */
function naiveRestored(
  model: CausalLM,
  ids: readonly number[],
  [b, e]: readonly [number, number],
  noiseStd: number,
  seed: number,
  S: number,
  states: RestoreSet,
  answer: number,
): number {
  const Tn = ids.length;
  const D = model.arch.hiddenSize;
  const n = e - b;
  const modules = [...new Set(states.map((s) => s.module))];
  const idsT = T.keep(T.tensor([...ids], [1, Tn], 'int32'));
  const clean = new Trace({ retainOutput: modules });
  T.noGrad(() => T.tidy(() => void model.forward({ ids: idsT, trace: clean, logits: 'none' })));
  const rng = new T.Rng(seed); // the documented draw order: [sample, subject token, dim]
  const noise = Array.from({ length: S * n * D }, () => Math.fround(noiseStd * rng.nextNormal()));
  let p = 0;
  for (let s = 0; s < S; s++) {
    const edit: Record<string, OutputEdit> = {
      [model.arch.embedding]: (x) => {
        const a = x.toArray();
        for (let j = 0; j < n; j++) for (let d = 0; d < D; d++) a[(b + j) * D + d]! += noise[(s * n + j) * D + d]!;
        return T.tensor(a, x.shape, x.dtype);
      },
    };
    for (const m of modules)
      edit[m] = (x) => {
        const a = x.toArray();
        const c = clean.output(m).toArray();
        for (const st of states) if (st.module === m) for (let d = 0; d < D; d++) a[st.token * D + d] = c[st.token * D + d]!;
        return T.tensor(a, x.shape, x.dtype);
      };
    const tr = new Trace({ edit });
    const logits = T.noGrad(() => T.tidy(() => model.forward({ ids: idsT, trace: tr, logits: 'last' }).logits!.toArray()));
    const m = Math.max(...logits);
    const z = logits.reduce((acc, l) => acc + Math.exp(l - m), 0);
    p += Math.exp(logits[answer]! - m) / z;
  }
  clean.dispose();
  idsT.dispose();
  return p / S;
}

interface Loaded {
  model: CausalLM;
  tokenizer: Tokenizer;
  ids: number[];
  range: [number, number];
}

async function load(name: string): Promise<Loaded> {
  const { model, tokenizer } = await openModel(modelDir(name));
  const ids = tokenizer.encode(PROMPT, promptEncoding(tokenizer));
  return { model, tokenizer, ids, range: subjectTokenRange(tokenizer, ids, PROMPT, SUBJECT) };
}

for (const name of ['tiny-gpt2', 'tiny-llama']) {
  describe(`causal tracing on ${name}`, { skip: skipNoShared }, () => {
    const S = 3;
    test('the identities: restore-all = clean, restore-nothing = corrupted, pre-subject states do nothing', async () => {
      const { model, ids, range } = await load(name);
      const std = 3 * embeddingStd(model);
      using runs = new CorruptedRuns(model, ids, range, { samples: S, noiseStd: std, seed: 0 });
      const a = runs.cleanArgmax;
      const clean = runs.cleanProb(a);
      const corrupted = runs.corruptedProb(a);
      assert.notEqual(clean, corrupted, 'the noise changes the prediction');
      const L = model.arch.numLayers;
      const everyToken = (l: number): RestoredState[] =>
        ids.map((_, token) => ({ token, module: model.arch.layerTemplate.replace('{}', String(l)) }));
      const sets: RestoreSet[] = [[], ...Array.from({ length: L }, (_, l) => everyToken(l))];
      const [none, ...all] = runs.restore(sets, a);
      assert.ok(relDiff(none!, corrupted) <= BATCH_TOL, `restoring nothing is the corrupted run: ${none} vs ${corrupted}`);
      all.forEach((p, l) => assert.ok(relDiff(p, clean) <= BATCH_TOL, `layer ${l}: ${p} vs clean ${clean}`));
      // causal attention: states before the subject are the same in the clean and corrupted runs
      const before = Array.from({ length: range[0] * L }, (_, i) => cellStates(model, 'hidden', Math.floor(i / L), i % L, 1));
      for (const p of runs.restore(before, a)) assert.ok(relDiff(p, corrupted) <= BATCH_TOL, `${p} vs ${corrupted}`);
      model.dispose();
    });

    test('batched = one cell per forward, and both = an independent one-run-per-sample reference', async () => {
      const { model, ids, range } = await load(name);
      const std = 3 * embeddingStd(model);
      using runs = new CorruptedRuns(model, ids, range, { samples: S, noiseStd: std, seed: 5 });
      const a = runs.cleanArgmax;
      const L = model.arch.numLayers;
      const sets: RestoredState[][] = [];
      for (const kind of ['hidden', 'mlp', 'attn'] as const)
        for (const t of [range[1] - 1, ids.length - 1]) for (let l = 0; l < L; l++) sets.push(cellStates(model, kind, t, l, 3));
      const batched = runs.restore(sets, a, { maxRows: 1000 });
      const single = runs.restore(sets, a, { maxRows: 1 });
      batched.forEach((p, i) => assert.ok(relDiff(p, single[i]!) <= BATCH_TOL, `cell ${i}: ${p} vs ${single[i]}`));
      for (const i of [1, L + 2, 2 * L + 1, 4 * L + 1]) {
        const ref = naiveRestored(model, ids, range, std, 5, S, sets[i]!, a);
        assert.ok(relDiff(batched[i]!, ref) <= 1e-5, `cell ${i}: ${batched[i]} vs reference ${ref}`);
      }
      assert.ok(relDiff(runs.corruptedProb(a), naiveRestored(model, ids, range, std, 5, S, [], a)) <= 1e-5);
      model.dispose();
    });

    test('noise 0: every restored probability is the clean one', async () => {
      const { model, tokenizer } = await load(name);
      const r = causalTrace(model, tokenizer, PROMPT, SUBJECT, { samples: 2, noise: 0, window: 2 });
      assert.equal(r.noise.std, 0);
      assert.ok(relDiff(r.corruptedProb, r.cleanProb) <= BATCH_TOL, `corrupted ${r.corruptedProb} vs clean ${r.cleanProb}`);
      for (const t of r.traces)
        for (const row of t.restored)
          for (const p of row) assert.ok(relDiff(p, r.cleanProb) <= BATCH_TOL, `${t.kind}: ${p} vs ${r.cleanProb}`);
      model.dispose();
    });
  });
}

describe('causalTrace', { skip: skipNoShared }, () => {
  test('result shape, seeding, --answer and the subject range', async () => {
    const { model, tokenizer, ids, range } = await load('tiny-llama');
    assert.deepEqual(range, [5, 6]);
    const opts = { samples: 2, window: 3, seed: 7 };
    const r = causalTrace(model, tokenizer, PROMPT, SUBJECT, opts);
    assert.deepEqual(causalTrace(model, tokenizer, PROMPT, SUBJECT, opts), r, 'same seed, same numbers');
    assert.notEqual(causalTrace(model, tokenizer, PROMPT, SUBJECT, { ...opts, seed: 8 }).corruptedProb, r.corruptedProb);
    const L = model.arch.numLayers;
    assert.deepEqual(
      r.traces.map((t) => [t.kind, t.window, t.module]),
      [
        ['hidden', 1, 'model.layers.{}'],
        ['mlp', 3, 'model.layers.{}.mlp'],
        ['attn', 3, 'model.layers.{}.self_attn'],
      ],
    );
    assert.deepEqual(r.inputIds, ids);
    assert.equal(r.tokens.length, ids.length);
    assert.equal(r.noise.estimatedOver, 'embedding-matrix');
    assert.ok(Math.abs(r.noise.std - 3 * r.noise.embeddingStd!) < 1e-12);
    for (const t of r.traces) {
      assert.equal(t.restored.length, ids.length);
      t.restored.forEach((row, i) => {
        assert.equal(row.length, L);
        row.forEach((p, l) => assert.equal(t.indirectEffect[i]![l], p - r.corruptedProb));
      });
    }
    assert.equal(r.answer.given, false);
    const given = causalTrace(model, tokenizer, PROMPT, SUBJECT, { ...opts, kinds: ['hidden'], answer: 'with' });
    assert.equal(given.answer.id, encodeTarget(tokenizer, ' with')[0]);
    assert.equal(given.answer.text, ' with');
    assert.equal(given.answer.given, true);
    assert.deepEqual(
      given.traces.map((t) => t.kind),
      ['hidden'],
    );
    const bySubjects = causalTrace(model, tokenizer, PROMPT, SUBJECT, {
      ...opts,
      kinds: ['hidden'],
      noiseSubjects: ['Lily', 'Tom'],
    });
    assert.equal(bySubjects.noise.estimatedOver, 'subjects');
    assert.throws(() => causalTrace(model, tokenizer, PROMPT, 'Paris'), /the subject "Paris" does not occur in the prompt/);
    assert.throws(() => causalTrace(model, tokenizer, PROMPT, SUBJECT, { samples: 0 }), /samples must be an integer >= 1/);
    assert.throws(() => causalTrace(model, tokenizer, PROMPT, SUBJECT, { noise: -1 }), /noise must be a number >= 0/);
    model.dispose();
  });

  test('subject token ranges on GPT-2 BPE and llama2.c (dummy-prefix) tokens', async () => {
    for (const name of ['tiny-gpt2', 'stories260K']) {
      const { model, tokenizer } = await openModel(modelDir(name));
      for (const [prompt, subject] of [
        ['The Eiffel Tower is located in the city of', 'Eiffel Tower'],
        ['Tom and Lily played with the ball', 'Lily'],
        ['Once upon a time', 'Once upon'],
      ] as const) {
        const ids = tokenizer.encode(prompt, promptEncoding(tokenizer));
        const [b, e] = subjectTokenRange(tokenizer, ids, prompt, subject);
        const text = ids
          .slice(b, e)
          .map((id) => tokenizer.decode([id]))
          .join('');
        assert.equal(text.trim(), subject, `${name}: "${subject}" in "${prompt}" -> tokens ${b}..${e - 1}`);
      }
      model.dispose();
    }
  });

  test('the heat map figure: token rows with the subject starred, layers across, rendered to SVG', async () => {
    const { model, tokenizer } = await load('tiny-llama');
    const r = causalTrace(model, tokenizer, PROMPT, SUBJECT, { samples: 2, kinds: ['mlp'], window: 2 });
    model.dispose();
    const spec = traceFigureSpec(r, r.traces[0]!) as unknown as {
      data: { values: { pos: number; layer: number; p: number }[] };
      encoding: { y: { axis: { labelExpr: string } }; color: { scale: { scheme: string; domain: number[] } } };
    };
    assert.equal(spec.data.values.length, r.tokens.length * r.numLayers);
    assert.match(spec.encoding.y.axis.labelExpr, /" Lily\*"/);
    assert.equal(spec.encoding.color.scale.scheme, 'greens');
    assert.equal(spec.encoding.color.scale.domain[0], r.corruptedProb);
    const svg = await traceFigureSvg(r, r.traces[0]!);
    assert.match(svg, /^<svg/);
    for (const s of ['Impact of restoring MLP after corrupted input', 'Lily*', 'center of interval of 2 restored MLP layers'])
      assert.ok(svg.includes(s), s);
  });
});

const bin = resolve(fileURLToPath(new URL('../../bin/lmedit.js', import.meta.url)));
function lmedit(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('lmedit trace', { skip: skipNoShared }, () => {
  test('--json --out on stories260K: the result as JSON, trace.json and one SVG per kind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-trace-'));
    try {
      const args = ['trace', '--model', 'stories260K', '--prompt', PROMPT, '--subject', SUBJECT, '--samples', '2'];
      const r = lmedit(...args, '--window', '3', '--out', dir, '--json');
      assert.equal(r.code, 0, r.err);
      const j = JSON.parse(r.out) as {
        model: string;
        tokens: string[];
        subjectRange: [number, number];
        answer: { id: number; text: string };
        cleanProb: number;
        corruptedProb: number;
        numLayers: number;
        traces: { kind: string; window: number; restored: number[][]; indirectEffect: number[][] }[];
      };
      assert.equal(j.model, 'stories260K');
      assert.deepEqual(j.subjectRange, [5, 6]);
      assert.equal(j.numLayers, 5);
      assert.ok(j.cleanProb > 0 && j.cleanProb <= 1 && j.corruptedProb > 0 && j.corruptedProb <= 1);
      assert.deepEqual(
        j.traces.map((t) => [t.kind, t.window, t.restored.length, t.restored[0]!.length, t.indirectEffect.length]),
        [
          ['hidden', 1, 13, 5, 13],
          ['mlp', 3, 13, 5, 13],
          ['attn', 3, 13, 5, 13],
        ],
      );
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8')), j);
      for (const k of ['hidden', 'mlp', 'attn']) {
        const svg = join(dir, `heatmap-${k}.svg`);
        assert.ok(existsSync(svg), svg);
        assert.match(readFileSync(svg, 'utf8'), /^<svg/);
      }
      assert.match(r.err, /causal tracing/);

      const text = lmedit(...args, '--kind', 'hidden');
      assert.equal(text.code, 0, text.err);
      assert.match(text.out, /p\(answer\): clean [\d.e+-]+, corrupted [\d.e+-]+/);
      assert.match(text.out, /largest indirect effect/);
      assert.doesNotMatch(text.out, /^mlp/m);

      const bad = lmedit('trace', '--model', 'stories260K', '--prompt', PROMPT, '--subject', 'Paris');
      assert.equal(bad.code, 1);
      assert.match(bad.err, /the subject "Paris" does not occur in the prompt/);
      const badKind = lmedit('trace', '--model', 'stories260K', '--prompt', PROMPT, '--subject', SUBJECT, '--kind', 'mlps');
      assert.notEqual(badKind.code, 0);
      assert.match(badKind.err, /--kind must be one of hidden, mlp, attn, all, got "mlps"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
