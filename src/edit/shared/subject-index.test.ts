/**
 * Subject lookup index on real tokenizers (GPT-2 BPE and tok512 from ../shared): the four
 * fact_token strategies, both rules, BOS counting, and clear errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../../tokenizer/index.js';
import { SHARED, skipNoShared } from '../../testing.js';
import { encodeTarget, fullText, promptEncoding, splitTemplate, subjectIndex, type SubjectPrompt } from './subject-index.js';

const lebron = (pre: string, post = ' plays the sport of'): SubjectPrompt => ({ pre, subject: 'LeBron James', post });

describe('subjectIndex', { skip: skipNoShared }, () => {
  let gpt2: Tokenizer;
  let tok512: Tokenizer;
  const load = async (): Promise<void> => {
    gpt2 ??= await loadTokenizer(join(SHARED, 'data', 'gpt2-tokenizer'));
    tok512 ??= await loadTokenizer(join(SHARED, 'data', 'stories260K', 'tok512.bin'));
  };

  test('GPT-2: "LeBron James" is Le|Bron| James; every strategy under both rules', async () => {
    await load();
    // 'The sky. LeBron James plays' -> The| sky|.| LeBron| James| plays
    for (const rule of ['easyedit', 'original'] as const) {
      assert.equal(subjectIndex(gpt2, lebron(''), 'subject_last', rule), 2);
      assert.equal(subjectIndex(gpt2, lebron(''), 'subject_first', rule), 0);
      assert.equal(subjectIndex(gpt2, lebron(''), 'subject_first_after_last', rule), 3);
      assert.equal(subjectIndex(gpt2, lebron('The sky. '), 'subject_last', rule), 4);
      assert.equal(subjectIndex(gpt2, lebron('The sky. '), 'subject_first', rule), 3);
      // no suffix: "first after last" falls back to the last subject token
      assert.equal(subjectIndex(gpt2, lebron('The sky. ', ''), 'subject_first_after_last', rule), 4);
    }
    assert.equal(subjectIndex(gpt2, lebron('The sky. '), 'last', 'easyedit'), 8);
  });

  test('tok512 (no BOS, dummy prefix unless the text starts with a space): rules agree on "pre " prefixes', async () => {
    await load();
    assert.deepEqual(promptEncoding(tok512), { addBos: false, dummyPrefix: 'unless_space' });
    const p = lebron('I am told. ');
    const ids = tok512.encode(fullText(p), promptEncoding(tok512));
    const i = subjectIndex(tok512, p, 'subject_last', 'easyedit');
    assert.equal(i, subjectIndex(tok512, p, 'subject_last', 'original'));
    assert.ok(tok512.decode(ids.slice(0, i + 1)).endsWith('LeBron James'), 'the index is the last subject token');
    assert.ok(!tok512.decode(ids.slice(0, i)).endsWith('LeBron James'));
  });

  test('tok512: a prefix without a trailing space gets an extra dummy-prefix token under the original rule', async () => {
    await load();
    const p: SubjectPrompt = { pre: '(', subject: 'Lily', post: ') is' };
    const ids = tok512.encode(fullText(p), promptEncoding(tok512));
    const e = subjectIndex(tok512, p, 'subject_last', 'easyedit');
    const o = subjectIndex(tok512, p, 'subject_last', 'original');
    assert.ok(tok512.decode(ids.slice(0, e + 1)).endsWith('Lily'), 'easyedit: last subject token');
    assert.notEqual(o, e, 'separately tokenised pieces each get a leading space');
  });

  test('BOS is counted when the tokenizer adds one', async () => {
    await load();
    // GPT-2 with a BOS: every index moves by one under both rules
    const withBos: Tokenizer = {
      ...gpt2,
      kind: 'hf',
      encode: (text, opts) => [...(opts?.addBos === false ? [] : [50256]), ...gpt2.encode(text, opts)],
      decode: (ids, o) => gpt2.decode(ids, o),
    };
    for (const rule of ['easyedit', 'original'] as const) {
      assert.equal(subjectIndex(withBos, lebron('The sky. '), 'subject_last', rule), 5);
      assert.equal(subjectIndex(withBos, lebron(''), 'subject_first', rule), 1);
    }
    assert.deepEqual(encodeTarget(withBos, ' ice hockey'), [4771, 12217], 'targets never carry BOS');
  });

  test('clear errors: no slot in the template, empty subject, empty target', async () => {
    await load();
    assert.throws(() => splitTemplate('The sky.', 'x'), /has no \{\} for the subject/);
    assert.throws(() => subjectIndex(gpt2, { pre: 'a ', subject: '', post: ' b' }, 'subject_last', 'easyedit'), /empty subject/);
    assert.throws(() => encodeTarget(gpt2, ''), /encodes to no tokens/);
    assert.deepEqual(splitTemplate('{} x {}', 'S'), { pre: '{} x ', subject: 'S', post: '' }, 'the last {} is the slot');
  });
});
