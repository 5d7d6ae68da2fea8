/** N-gram entropy against values computed by hand. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ngramEntropy, ngramEntropyOf, textNgramEntropy } from './ngram-entropy.js';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ''} ${a} vs ${b}`);

describe('n-gram entropy', () => {
  test('H_n of a token list', () => {
    // bigrams (a,b) (b,a) (a,b): p = 2/3, 1/3
    close(ngramEntropyOf(['a', 'b', 'a', 'b'], 2), -(2 / 3) * Math.log2(2 / 3) - (1 / 3) * Math.log2(1 / 3));
    // five distinct tokens give three distinct trigrams: log2 3
    close(ngramEntropyOf(['a', 'b', 'c', 'd', 'e'], 3), Math.log2(3));
    // a repeated token: one bigram type, zero entropy
    close(ngramEntropyOf(['x', 'x', 'x'], 2), 0);
    // fewer tokens than n: no n-grams, 0 (NumPy's sum of an empty array)
    close(ngramEntropyOf(['x'], 2), 0);
    close(ngramEntropyOf([], 3), 0);
  });

  test('per text: mean(2/3 H2, 4/3 H3) over the word_tokenize tokens', () => {
    // "the cat the cat ." -> tokens the cat the cat . (the final period is split off)
    // bigrams: the-cat ×2, cat-the, cat-. : p = 1/2, 1/4, 1/4 -> H2 = 1.5
    // trigrams: the-cat-the, cat-the-cat, the-cat-. : H3 = log2 3
    const want = ((2 / 3) * 1.5 + (4 / 3) * Math.log2(3)) / 2;
    close(textNgramEntropy('the cat the cat.'), want);
    // "don't" is two words: do n't
    close(textNgramEntropy("don't"), ((2 / 3) * 0 + 0) / 2);
    close(textNgramEntropy("I don't"), ((2 / 3) * 1 + (4 / 3) * 0) / 2);
  });

  test('arithmetic mean over texts; custom orders and weights', () => {
    const a = textNgramEntropy('the cat the cat.');
    const b = textNgramEntropy('a b c d e');
    close(ngramEntropy(['the cat the cat.', 'a b c d e']), (a + b) / 2);
    close(textNgramEntropy('a b c d e', { ns: [1], weights: [1] }), Math.log2(5));
    assert.ok(Number.isNaN(ngramEntropy([])));
    assert.throws(() => textNgramEntropy('x', { ns: [2], weights: [] }), /weights/);
  });
});
