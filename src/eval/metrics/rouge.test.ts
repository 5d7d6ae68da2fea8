/** ROUGE of PyPI `rouge` 1.0.1 on small strings computed by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RougeError, rougeMeanF, rougeScores, rougeSentences } from './rouge.js';

/** the package's F: 2·(P·R/(P+R+1e-8)) */
const F = (p: number, r: number): number => 2.0 * ((p * r) / (p + r + 1e-8));

test('sentences: split on ".", empty pieces dropped, whitespace collapsed (a blank piece is one empty sentence)', () => {
  assert.deepEqual(rougeSentences(' Hello  world. Bye\t now.'), ['Hello world', 'Bye now']);
  assert.deepEqual(rougeSentences('a. .'), ['a', '']);
  assert.deepEqual(rougeSentences('...'), []);
  assert.deepEqual(rougeSentences('x\u00a0y\u2003.z'), ['x y', 'z']); // Python's str.split() whitespace
});

test('ROUGE-1/2 count n-gram sets: duplicates once', () => {
  // hyp tokens the cat the cat: unigrams {the, cat}, bigrams {the cat, cat the}
  // ref tokens the cat sat: unigrams {the, cat, sat}, bigrams {the cat, cat sat}
  const s = rougeScores('the cat the cat', 'the cat sat');
  assert.deepEqual(s.rouge1, { r: 2 / 3, p: 1, f: F(1, 2 / 3) });
  assert.deepEqual(s.rouge2, { r: 0.5, p: 0.5, f: F(0.5, 0.5) });
  // LCS(the cat sat, the cat the cat) = the cat: U = {the, cat}; m = 3, n = 2
  assert.deepEqual(s.rougeL, { r: 2 / 3, p: 1, f: F(1, 2 / 3) });
  assert.equal(rougeMeanF(s), (F(1, 2 / 3) + F(0.5, 0.5) + F(1, 2 / 3)) / 3);
});

test('ROUGE-L is the union of the LCS tokens over every (reference, hypothesis) sentence pair', () => {
  // ref sentences [a b c], [d e]; hyp sentences [a d], [b e]
  // LCS pairs: (abc, ad) → a, (abc, be) → b, (de, ad) → d, (de, be) → e: U = {a, b, d, e}
  const s = rougeScores('a d. b e', 'a b c. d e');
  assert.deepEqual(s.rougeL, { r: 4 / 5, p: 1, f: F(1, 4 / 5) });
  // n-grams cross sentence boundaries: hyp bigrams {a d, d b, b e}, ref {a b, b c, c d, d e}
  assert.deepEqual(s.rouge2, { r: 0, p: 0, f: 0 });
  assert.deepEqual(s.rouge1, { r: 4 / 5, p: 1, f: F(1, 4 / 5) });
});

test('ROUGE-L backtrack: on a tie it moves along the hypothesis (j−1), which picks the later token', () => {
  // ref [a b]; hyp [b a] and [b]. For (ab, ba) the table ties at (2,2), so j−1, then b matches: {b}.
  // (ab, b) → {b}. U = {b}, m = |{a,b}| = 2, n = |{b,a}| = 2. The other tie rule would give {a, b}.
  const s = rougeScores('b a. b', 'a b');
  assert.deepEqual(s.rougeL, { r: 0.5, p: 0.5, f: F(0.5, 0.5) });
});

test('tokens are split on single spaces, case-sensitive, punctuation attached; a blank sentence is an empty token', () => {
  const s = rougeScores('Cat, dog', 'cat dog');
  assert.deepEqual(s.rouge1, { r: 0.5, p: 0.5, f: F(0.5, 0.5) }); // only "dog"
  // hyp "a. ." → sentences [a, ''] → tokens {a, ''}; ref {a}
  const t = rougeScores('a. .', 'a');
  assert.deepEqual(t.rouge1, { r: 1, p: 0.5, f: F(0.5, 1) });
  assert.deepEqual(t.rougeL, { r: 1, p: 0.5, f: F(0.5, 1) });
});

test('no sentence raises the package ValueError (hypothesis first)', () => {
  for (const hyp of ['', '...', '.']) {
    assert.throws(
      () => rougeScores(hyp, 'a reference'),
      (e: unknown) =>
        e instanceof RougeError && e.message === 'Hypothesis is empty.' && e.pythonError === 'ValueError: Hypothesis is empty.',
    );
  }
  assert.throws(
    () => rougeScores('x', '..'),
    (e: unknown) => e instanceof RougeError && e.pythonError === 'ValueError: Reference is empty.',
  );
  assert.throws(() => rougeScores('..', '..'), /Hypothesis is empty/);
});

test('identical texts score 1 − tiny (the 1e-8 in the F denominator)', () => {
  const s = rougeScores(' Esme and Rose meet at 8 p.m.', 'Esme and Rose meet at 8 p.m.');
  assert.equal(s.rouge1.f, 0.999999995);
  assert.equal(rougeMeanF(s), 0.999999995);
});
