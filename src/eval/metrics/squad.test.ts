/** SQuAD normalisation (the ODQA script's normalize_answer, `regex` package semantics), EM and F1. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containsWordSpan, exactMatch, exactMatchAny, normalizeAnswer, tokenF1, tokenF1Max } from './squad.js';

test('normalize: lowercase, ASCII punctuation out, articles to spaces, whitespace collapsed', () => {
  assert.equal(normalizeAnswer('The Quick, brown fox!'), 'quick brown fox');
  assert.equal(normalizeAnswer('an apple a day, the end'), 'apple day end');
  assert.equal(normalizeAnswer('theater anthem area'), 'theater anthem area'); // articles only as whole words
  assert.equal(normalizeAnswer('A-Team'), 'ateam'); // punctuation goes first, so "a" is no longer a word
  assert.equal(normalizeAnswer("the'a the.a"), 'thea thea'); // punctuation is removed before the articles
});

test('normalize: the regex package word boundary is Unicode-aware (marks and ZWJ are word characters)', () => {
  assert.equal(normalizeAnswer('a\u0301 x'), 'a\u0301 x'); // a + combining acute: one word, kept
  assert.equal(normalizeAnswer('a² x'), '² x'); // ² is no word character for `regex` (it is for `re`)
  assert.equal(normalizeAnswer('the\u200d x'), 'the\u200d x'); // ZWJ (Join_Control) is a word character
  assert.equal(normalizeAnswer('ⅰa an'), 'ⅰa'); // ⅰ (Nl, Alphabetic) joins the word
  assert.equal(normalizeAnswer('élan a'), 'élan');
});

test("normalize: Python's whitespace set (NBSP, em space, \\x1c) but not U+FEFF", () => {
  assert.equal(normalizeAnswer('\u00a0the\u2003cat\x1c'), 'cat');
  assert.equal(normalizeAnswer('a\ufeffb'), '\ufeffb'); // U+FEFF: no space, no word character
  assert.equal(normalizeAnswer('İstanbul'), 'i\u0307stanbul'); // full lowercase mapping, as str.lower
});

test('exact match and token F1', () => {
  assert.equal(exactMatch('The Beatles.', 'beatles'), true);
  assert.equal(exactMatchAny('Paris, France', ['paris', 'France']), false);
  assert.equal(exactMatchAny('paris', []), false);
  // pred tokens [cat, sat], gold [cat, sat, down]: P = 1, R = 2/3, F1 = 0.8
  assert.equal(tokenF1('the cat sat', 'cat sat down'), 0.8);
  assert.equal(tokenF1('dog', 'cat'), 0);
  // duplicates are clipped: pred [a1, a1], gold [a1]: P = 1/2, R = 1
  assert.equal(tokenF1('a1 a1', 'a1'), (2 * 0.5 * 1) / 1.5);
  assert.equal(tokenF1Max('cat', ['dog', 'the cat']), 1);
});

test('whole-word span containment', () => {
  assert.equal(containsWordSpan('i live in new york city', 'new york'), true);
  assert.equal(containsWordSpan('a new yorker', 'new york'), false);
  assert.equal(containsWordSpan('york', 'york'), true);
  assert.equal(containsWordSpan('york', ''), false);
});
