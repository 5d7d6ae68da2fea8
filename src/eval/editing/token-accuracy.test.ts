/**
 * Teacher-forced token accuracy: values worked out by hand on a bigram model, the BPE boundary
 * quirk, NaN for empty answers, the exact-match variant, and batched (left-padded) predictions
 * equal to unpadded one-at-a-time forward passes on a random GPT-2 and on stories260K.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../tensor/index.js';
import { openModel } from '../../models/index.js';
import type { CausalLM } from '../../models/types.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { modelDir, skipNoShared } from '../../testing.js';
import { argmax } from '../../models/score.js';
import {
  accuracyOf,
  answerPredictions,
  encodePair,
  generationExactMatch,
  tokenAccuracy,
  type PromptTarget,
} from './token-accuracy.js';
import { bigramModel, pieceTokenizer, tinyGpt2 } from './testing.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');

/** Logits one-hot on the next letter of the alphabet; ' ' and BOS predict 'a'; 'b c' predicts 'd'. */
function alphabetModel(tok: Tokenizer): CausalLM {
  const V = tok.vocabSize;
  return bigramModel(V, (t) => {
    const row = new Array<number>(V).fill(0);
    const piece = tok.idToToken(t)!;
    const next = piece === '<s>' || piece === ' ' ? 'a' : piece === 'b c' ? 'd' : LETTERS[LETTERS.indexOf(piece) + 1];
    row[next !== undefined ? tok.tokenToId(next)! : 0] = 1;
    return row;
  });
}

/** The argmax predictions of an unpadded single-row forward pass at positions m−1 … n−2. */
function unpaddedPredictions(model: CausalLM, ids: number[], m: number): number[] {
  return T.noGrad(() =>
    T.tidy(() => {
      const { logits } = model.forward({ ids: T.tensor(Int32Array.from(ids), [1, ids.length], 'int32') });
      const data = T.cast(logits!, 'float32').storage as Float32Array;
      const V = model.config.vocabSize;
      const out: number[] = [];
      for (let j = m; j < ids.length; j++) out.push(argmax(data.subarray((j - 1) * V, j * V)));
      return out;
    }),
  );
}

describe('teacher-forced token accuracy (hand-checked)', () => {
  const tok = pieceTokenizer([' ', ...LETTERS]);
  const model = alphabetModel(tok);

  test('s = P + " " + A with BOS, m = len(encode(P)), acc over positions m..n-1', () => {
    // ids [BOS a b ' ' c d], m = 3; predictions after b, ' ', c: c a d; targets ' ' c d -> 1/3
    const pair = encodePair(tok, { prompt: 'ab', answer: 'cd' });
    assert.deepEqual(pair, { ids: [1, 3, 4, 2, 5, 6], m: 3 });
    assert.deepEqual(answerPredictions(model, [pair]), [[5, 3, 6]]);
    assert.deepEqual(tokenAccuracy(model, tok, [{ prompt: 'ab', answer: 'cd' }]), [1 / 3]);
    // "xy z": after y -> z (target ' '), after ' ' -> a (target z): 0
    assert.deepEqual(tokenAccuracy(model, tok, [{ prompt: 'xy', answer: 'z' }]), [0]);
  });

  test('a merge across the prompt/answer boundary is scored exactly as written', () => {
    const merging = pieceTokenizer([' ', ...LETTERS, 'b c']);
    // encode("ab") = [BOS a b] (m = 3) but encode("ab cd") = [BOS a "b c" d]: only d is scored,
    // predicted from the merged token -> 1
    const pair = encodePair(merging, { prompt: 'ab', answer: 'cd' });
    assert.equal(pair.ids.length, 4);
    assert.equal(pair.m, 3);
    assert.deepEqual(tokenAccuracy(alphabetModel(merging), merging, [{ prompt: 'ab', answer: 'cd' }]), [1]);
  });

  test('an answer that adds no token gives NaN (the record is skipped)', () => {
    const noSpace = pieceTokenizer(LETTERS); // ' ' and '?' are dropped by this tokenizer
    const acc = tokenAccuracy(alphabetModel(noSpace), noSpace, [
      { prompt: 'ab', answer: '?' },
      { prompt: 'ab', answer: 'cd' },
    ]);
    assert.ok(Number.isNaN(acc[0]));
    assert.equal(acc[1], 1); // [BOS a b c d]: c after b, d after c
    assert.ok(Number.isNaN(accuracyOf({ ids: [1, 2], m: 2 }, [])));
  });

  test('exact match by greedy generation of len(answer tokens)', () => {
    const noSpace = pieceTokenizer(LETTERS);
    const m = alphabetModel(noSpace);
    assert.deepEqual(
      generationExactMatch(m, noSpace, [
        { prompt: 'ab', answer: 'cd' },
        { prompt: 'ab', answer: 'ce' },
        { prompt: 'abc', answer: 'defg' },
      ]),
      [1, 0, 1],
    );
    // with the space the bigram never predicts, teacher forcing gives 1/3 but generation 0
    assert.deepEqual(generationExactMatch(model, tok, [{ prompt: 'ab', answer: 'cd' }]), [0]);
  });
});

const ITEMS: PromptTarget[] = [
  { prompt: 'the cat sat on', answer: 'the mat' },
  { prompt: 'a', answer: 'b' },
  { prompt: 'what is the name of the dog that barked', answer: 'rex the loud one' },
  { prompt: 'who wrote it', answer: 'nobody' },
  { prompt: 'one two three four five', answer: 'six' },
  { prompt: 'x', answer: 'a long answer after a short prompt' },
  { prompt: 'mid length prompt here', answer: 'and answer' },
];

function assertBatchedEqualsUnpadded(model: CausalLM, tok: Tokenizer, items: PromptTarget[]): void {
  const pairs = items.map((p) => encodePair(tok, p));
  const batched = answerPredictions(model, pairs, { batchSize: 4 });
  const single = answerPredictions(model, pairs, { batchSize: 1 });
  assert.deepEqual(batched, single);
  pairs.forEach((p, i) => assert.deepEqual(batched[i], unpaddedPredictions(model, p.ids, p.m), `pair ${i}`));
  assert.deepEqual(tokenAccuracy(model, tok, items, { batchSize: 3 }), tokenAccuracy(model, tok, items, { batchSize: 1 }));
  // the greedy exact-match variant too
  assert.deepEqual(
    generationExactMatch(model, tok, items, { batchSize: 4 }),
    generationExactMatch(model, tok, items, { batchSize: 1 }),
  );
}

describe('batched with left padding = unpadded one at a time', () => {
  test('random GPT-2', () => {
    const tok = pieceTokenizer([' ', ...LETTERS], { bos: false });
    const model = tinyGpt2(tok.vocabSize, 3);
    const preds = answerPredictions(
      model,
      ITEMS.map((p) => encodePair(tok, p)),
    );
    assert.ok(new Set(preds.flat()).size > 3, 'the random model predicts varied tokens');
    assertBatchedEqualsUnpadded(model, tok, ITEMS);
    model.dispose();
  });

  test('stories260K (LLaMA, BOS + SentencePiece dummy prefix)', { skip: skipNoShared }, async () => {
    const { model, tokenizer } = await openModel(modelDir('stories260K'));
    const items = [
      ...ITEMS,
      { prompt: 'Tom had a big red', answer: 'car' },
      { prompt: 'Once upon a time, there was a', answer: 'little girl named Lily' },
    ];
    assertBatchedEqualsUnpadded(model, tokenizer, items);
    // the model knows its stories: "Once upon a time, there was a little girl named Lily" scores high
    const [acc] = tokenAccuracy(model, tokenizer, [items.at(-1)!]);
    assert.ok(acc! >= 0.5, `accuracy ${acc}`);
    model.dispose();
  });
});
