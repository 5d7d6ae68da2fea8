/**
 * The on-disk cache: a hit returns identical bytes without any forward pass; a run interrupted
 * (the progress callback throws) resumes from its checkpoint to the same sum as an
 * uninterrupted run; keys separate budgets, dtypes and models; default folder from $LMEDIT_CACHE.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../tensor/index.js';
import { cachedSecondMoments, modelFingerprint, readStatsFile, statsCacheDir } from './cache.js';
import { resolveCorpus } from './corpus.js';
import { createStatsProvider } from './index.js';
import { charTokenizer, countingModel, tempDir, tinyGpt2 } from './testing.js';

const L1 = 'transformer.h.1.mlp.c_proj';
const L2 = 'transformer.h.2.mlp.c_proj';
const tok = charTokenizer();
const tmp = tempDir();
after(() => tmp.remove());
const corpusPath = join(tmp.dir, 'text.txt');
writeFileSync(corpusPath, 'The quick brown fox jumps over the lazy dog. '.repeat(40)); // 1800 tokens
const corpus = { path: corpusPath, chunkLength: 50, maxTokens: 1000 };

function filesUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
}

describe('stats cache', () => {
  test('a cache hit returns identical bytes and runs no forward pass', () => {
    const cacheDir = join(tmp.dir, 'hit');
    const a = countingModel(tinyGpt2());
    const p1 = createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false });
    const C1 = p1.secondMoment(a.model, 1, L1);
    assert.equal(a.forwards(), 20, '1000 tokens in chunks of 50');
    assert.equal(p1.source(a.model, L1)?.kind, 'computed');
    // memoised: the same tensor again, no work
    assert.equal(p1.secondMoment(a.model, 1, L1), C1);
    assert.equal(a.forwards(), 20);

    const b = countingModel(tinyGpt2());
    const p2 = createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false });
    const C2 = p2.secondMoment(b.model, 1, L1);
    assert.equal(b.forwards(), 0);
    assert.equal(p2.source(b.model, L1)?.kind, 'cache');
    assert.deepEqual(
      Buffer.from(C2.storage.buffer, C2.storage.byteOffset, C2.size * 4),
      Buffer.from(C1.storage.buffer, C1.storage.byteOffset, C1.size * 4),
    );
    assert.equal(C2.dtype, 'float32');

    // another budget, dtype or model is another key
    const p3 = createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false, maxTokens: 500, dtype: 'float64' });
    const C3 = p3.secondMoment(b.model, 1, L1);
    assert.equal(b.forwards(), 10);
    assert.equal(C3.dtype, 'float64');
    const other = countingModel(tinyGpt2(2));
    createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false }).secondMoment(other.model, 1, L1);
    assert.equal(other.forwards(), 20);
    assert.notEqual(modelFingerprint(other.model), modelFingerprint(b.model));
    // only finished files remain: no checkpoint below the 50,000-token default
    assert.ok(filesUnder(cacheDir).every((f) => !f.includes('.partial.')));
    [p1, p2, p3].forEach((p) => p.dispose());
  });

  test('resume after an interruption gives the same sum as an uninterrupted run', () => {
    const model = tinyGpt2();
    const targets = [
      { layer: 1, moduleName: L1 },
      { layer: 2, moduleName: L2 },
    ];
    const resolved = resolveCorpus(corpus, model, 32);

    // same batching as below, so the same float32 additions in the same order
    const whole = cachedSecondMoments(model, tok, targets, resolved, { cacheDir: false, progress: false, batchSize: 2 });

    const cacheDir = join(tmp.dir, 'resume');
    const opts = { cacheDir, checkpointEvery: 200, batchSize: 2 };
    assert.throws(
      () =>
        cachedSecondMoments(model, tok, targets, resolved, {
          ...opts,
          progress: (p) => {
            if (p.tokens >= 700) throw new Error('simulated interruption');
          },
        }),
      /simulated interruption/,
    );
    const partials = filesUnder(cacheDir).filter((f) => f.endsWith('.partial.safetensors'));
    assert.equal(partials.length, 2);
    const saved = readStatsFile(join(cacheDir, partials[0]!))!;
    // checkpoints at 200, 400, 600 tokens; the throw at 700 loses the last batch
    assert.equal(saved.metadata['next_chunk'], '12');
    assert.equal(saved.count, 600);
    saved.sum.dispose();

    const counted = countingModel(model);
    const log: string[] = [];
    const resumed = cachedSecondMoments(counted.model, tok, targets, resolved, {
      ...opts,
      progress: false,
      log: (m) => log.push(m),
    });
    assert.equal(counted.forwards(), 4, 'only chunks 12..19 run again (batches of 2)');
    assert.ok(log.some((m) => /resuming .* at chunk 12 \(600 tokens\)/.test(m)));
    for (const name of [L1, L2]) {
      const r = resumed.get(name)!;
      const w = whole.get(name)!;
      assert.equal(r.origin, 'resumed');
      assert.equal(r.moment.count, 1000);
      assert.deepEqual(r.moment.sum.toArray(), w.moment.sum.toArray(), `${name}: bitwise equal sums`);
    }
    assert.ok(
      filesUnder(cacheDir).every((f) => !f.includes('.partial.')),
      'checkpoints removed once complete',
    );
    for (const m of [...whole.values(), ...resumed.values()]) m.moment.dispose();
  });

  test('statistics of a larger budget serve a smaller request (the file and its token count are reported)', () => {
    const cacheDir = join(tmp.dir, 'larger');
    const a = countingModel(tinyGpt2());
    const big = createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false, maxTokens: 1000 });
    big.secondMoment(a.model, 1, L1);
    assert.equal(a.forwards(), 20);
    const b = countingModel(tinyGpt2());
    const small = createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false, maxTokens: 300 });
    small.secondMoment(b.model, 1, L1);
    assert.equal(b.forwards(), 0, 'the 1000-token statistics are reused, nothing is computed');
    const src = small.source(b.model, L1)!;
    assert.equal(src.kind, 'cache');
    assert.equal(src.tokens, 1000);
    assert.match(src.path ?? '', /_t1000_/);
    // a larger request than anything cached is computed
    const c = countingModel(tinyGpt2());
    const bigger = createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false, maxTokens: 1500 });
    bigger.secondMoment(c.model, 1, L1);
    assert.equal(c.forwards(), 30);
    assert.equal(bigger.source(c.model, L1)?.tokens, 1500);
    for (const p of [big, small, bigger]) p.dispose();
  });

  test('a cache file changed or truncated on disk is detected by its checksum and rebuilt', () => {
    const cacheDir = join(tmp.dir, 'corrupt');
    const first = createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false });
    const a = countingModel(tinyGpt2());
    const C = first.secondMoment(a.model, 1, L1).toArray();
    const file = first.source(a.model, L1)!.path!;
    first.dispose();
    for (const damage of ['flip', 'truncate'] as const) {
      const bytes = readFileSync(file);
      writeFileSync(
        file,
        damage === 'flip'
          ? Buffer.concat([bytes.subarray(0, -9), Buffer.from([bytes[bytes.length - 9]! ^ 0x40]), bytes.subarray(-8)])
          : bytes.subarray(0, bytes.length - 100),
      );
      const b = countingModel(tinyGpt2());
      const p = createStatsProvider({ corpus, tokenizer: tok, cacheDir, progress: false });
      assert.deepEqual(p.secondMoment(b.model, 1, L1).toArray(), C, damage);
      assert.equal(b.forwards(), 20, `${damage}: recomputed, not read`);
      assert.equal(p.source(b.model, L1)?.kind, 'computed');
      p.dispose();
    }
  });

  test('a corpus of whitespace or of a few tokens is refused, and nothing is cached', () => {
    const cacheDir = join(tmp.dir, 'tiny-corpus');
    for (const [name, text] of [
      ['blank.txt', ' \n\t  \n'],
      ['two.txt', 'ab'],
    ] as const) {
      const path = join(tmp.dir, name);
      writeFileSync(path, text);
      const p = createStatsProvider({
        corpus: { path, chunkLength: 50, maxTokens: 1000 },
        tokenizer: tok,
        cacheDir,
        progress: false,
      });
      assert.throws(
        () => p.secondMoment(tinyGpt2(), 1, L1),
        /gave \d+ token\(s\) for transformer\.h\.1\.mlp\.c_proj, fewer than its \d+ input dimensions/,
      );
      p.dispose();
    }
    assert.deepEqual(
      filesUnder(cacheDir).filter((f) => f.endsWith('.safetensors')),
      [],
    );
  });

  test('cache folder: option, then $LMEDIT_CACHE/stats, then ~/.cache/lmedit/stats', () => {
    assert.equal(statsCacheDir('/x'), '/x');
    assert.equal(statsCacheDir(undefined, { LMEDIT_CACHE: '/c' }), join('/c', 'stats'));
    assert.equal(statsCacheDir(undefined, { LMEDIT_CACHE: '/c', LMEDIT_HOME: '/h' }), join('/c', 'stats'));
    assert.equal(statsCacheDir(undefined, { LMEDIT_HOME: '/h', XDG_CACHE_HOME: '/xdg' }), join('/h', 'stats'));
    assert.equal(statsCacheDir(undefined, { XDG_CACHE_HOME: '/xdg' }), join('/xdg', 'lmedit', 'stats'));
  });

  test("C survives the caller's tidy; dispose frees everything the provider holds", () => {
    const model = tinyGpt2();
    const before = T.memoryStats();
    const p = createStatsProvider({ corpus, tokenizer: tok, cacheDir: join(tmp.dir, 'tidy'), progress: false });
    const C = T.tidy(() => {
      const c = p.secondMoment(model, 1, L1);
      return T.sum(c);
    });
    assert.ok(!p.secondMoment(model, 1, L1).disposed);
    C.dispose();
    p.dispose();
    assert.deepEqual(T.memoryStats(), before);
    // the cache file path is reported and loading from it does not leak either
    const q = createStatsProvider({ corpus, tokenizer: tok, cacheDir: join(tmp.dir, 'tidy'), progress: false });
    q.secondMoment(model, 1, L1);
    assert.equal(q.source(model, L1)?.kind, 'cache');
    q.dispose();
    assert.deepEqual(T.memoryStats(), before);
  });

  test('computing after the weights changed warns; prefetch avoids it', () => {
    const model = tinyGpt2();
    const log: string[] = [];
    const p = createStatsProvider({ corpus, tokenizer: tok, cacheDir: false, progress: false, log: (m) => log.push(m) });
    p.prefetch(model, [{ layer: 1, moduleName: L1 }]);
    const delta = T.full(model.param(`${L1}.weight`).shape, 1e-3);
    T.addInPlace(model.param(`${L1}.weight`), delta);
    p.secondMoment(model, 1, L1); // memoised: no recomputation, no warning
    assert.deepEqual(log, []);
    p.secondMoment(model, 2, L2);
    assert.ok(
      log.some((m) => /weights changed .* transformer\.h\.2\.mlp\.c_proj on the edited model/.test(m)),
      log.join('\n'),
    );
    p.dispose();
    delta.dispose();
  });

  test('no corpus and no stats file: a clear error', () => {
    const p = createStatsProvider({ cacheDir: false });
    assert.throws(
      () => p.secondMoment(tinyGpt2(), 1, L1),
      /statistics for transformer\.h\.1\.mlp\.c_proj: pass a stats file\/folder, or a corpus/,
    );
  });
});
