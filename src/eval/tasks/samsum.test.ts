/**
 * SAMSum: the paper scorer's [0:-13] cut (in code points), the len ≤ 1 branch, the rouge crash,
 * the 818 denominator and result-file text; the clean scorer; parser errors; the scorer goldens.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../data.js';
import { pyFloatRepr } from '../python.js';
import { sentenceBleu } from '../metrics/bleu.js';
import { samsum } from './samsum.js';
import { ScriptCrash, type TaskItem } from './types.js';

const F = (p: number, r: number): number => 2.0 * ((p * r) / (p + r + 1e-8));
const EOS = '<|endoftext|>';

const examples = samsum.parse(
  JSON.stringify([
    { id: 'a', summary: 'Hello world.', dialogue: 'A: hi\r\nB: yo' },
    { id: 'b', summary: 'Tom meets Ann at 5.', dialogue: 'Tom: 5?\r\nAnn: ok' },
  ]),
  's.json',
  'paper',
);
const item = (i: number): TaskItem => samsum.items(examples[i]!, i)[0]!;

test('prompt: the dialogue (\\r\\n kept), a newline, TL;DR:', () => {
  assert.equal(item(0).prompt, 'A: hi\r\nB: yo\nTL;DR:');
});

describe('paper scorer', () => {
  test('EOS generated: the cut removes exactly it; identical text scores 1 − 5e-9', () => {
    const o = samsum.paper(examples, 'before').score(item(0), `${item(0).prompt} Hello world.${EOS}`);
    assert.equal(o['predict'], ' Hello world.');
    assert.equal(o['rouge_computed'], true);
    assert.deepEqual(o['rouge_1'], { r: 1, p: 1, f: 0.999999995 });
    assert.equal(o['rouge_score'], 0.999999995);
    assert.equal(o['bleu_score_informational'], sentenceBleu([['Hello', 'world.']], ['Hello', 'world.']));
  });

  test('no EOS: the last 13 characters of real text go; ROUGE by hand', () => {
    const o = samsum.paper(examples, 'before').score(item(1), `${item(1).prompt} Tom meets Ann at 5 pm today`);
    assert.equal(o['predict'], ' Tom meets Ann ');
    // hyp [Tom meets Ann], ref [Tom meets Ann at 5]: R1 3/5, R2 2/4, RL 3/5, all P = 1
    assert.deepEqual(o['rouge_1'], { r: 3 / 5, p: 1, f: F(1, 3 / 5) });
    assert.deepEqual(o['rouge_2'], { r: 2 / 4, p: 1, f: F(1, 2 / 4) });
    assert.deepEqual(o['rouge_l'], { r: 3 / 5, p: 1, f: F(1, 3 / 5) });
    assert.equal(o['rouge_score'], (F(1, 3 / 5) + F(1, 2 / 4) + F(1, 3 / 5)) / 3);
  });

  test('at most one character left scores 0 without ROUGE; two characters are scored', () => {
    const run = samsum.paper(examples, 'before');
    const a = run.score(item(0), `x\nTL;DR: abcdefghijklm`);
    assert.deepEqual([a['predict'], a['rouge_computed'], a['rouge_score'], a['bleu_score_informational']], [' ', false, 0, 0]);
    const b = run.score(item(0), `x\nTL;DR:${EOS}`);
    assert.deepEqual([b['predict'], b['rouge_computed']], ['', false]);
    const c = run.score(item(0), `x\nTL;DR: R${EOS}`);
    assert.deepEqual([c['predict'], c['rouge_computed'], c['rouge_score']], [' R', true, 0]);
  });

  test('the cut counts code points (Python), not UTF-16 units; the text after the last "DR:" is used', () => {
    const run = samsum.paper(examples, 'before');
    assert.equal(run.score(item(0), `x\nTL;DR: ab${'😀'.repeat(13)}`)['predict'], ' ab');
    assert.equal(run.score(item(0), `x\nTL;DR: Foo DR: Hello world.${EOS}`)['predict'], ' Hello world.');
  });

  test('a prediction of dots crashes the script (rouge ValueError); the aggregate is the crash', () => {
    const run = samsum.paper(examples, 'after');
    assert.throws(
      () => run.score(item(0), `x\nTL;DR:...${EOS}`),
      (e: unknown) => e instanceof ScriptCrash && e.pythonError === 'ValueError: Hypothesis is empty.' && e.predict === '...',
    );
    const agg = run.aggregate();
    assert.equal(agg.primary, null);
    assert.equal(agg.values['exception'], 'ValueError: Hypothesis is empty.');
    assert.equal(agg.values['result_file_tail'], null);
  });

  test('aggregate: sums over 818, the result file ends with "bleu/818\\trouge/818\\n"', () => {
    const run = samsum.paper(examples, 'before');
    const a = run.score(item(0), `${item(0).prompt} Hello world.${EOS}`);
    const b = run.score(item(1), `${item(1).prompt} Tom meets Ann at 5 pm today`);
    const rouge = (a['rouge_score'] as number) + (b['rouge_score'] as number);
    const bleu = (a['bleu_score_informational'] as number) + (b['bleu_score_informational'] as number);
    const agg = run.aggregate();
    assert.equal(agg.primary, rouge / 818);
    assert.deepEqual(agg.values, {
      rouge_score_total: rouge,
      bleu_score_total_informational: bleu,
      rouge_mean_over_818: rouge / 818,
      result_file_tail: `${pyFloatRepr(bleu / 818)}\t${pyFloatRepr(rouge / 818)}\n`,
      exception: null,
    });
    assert.equal(samsum.paper(examples, 'before').aggregate().values['result_file_tail'], '0.0\t0.0\n');
  });
});

test('clean scorer: G trimmed, EOS removed, no cut; empty or dots-only scores 0; mean over the items scored', () => {
  const run = samsum.clean(examples);
  const a = run.score(item(1), ' Tom meets Ann at 5.');
  assert.equal(a['rouge_score'], 0.999999995);
  assert.equal(run.score(item(1), `  Tom meets Ann${EOS}`)['predict'], 'Tom meets Ann');
  assert.equal(run.score(item(0), '...')['rouge_score'], 0);
  assert.equal(run.score(item(0), '  ')['rouge_score'], 0);
  const agg = run.aggregate();
  const second = (F(1, 3 / 5) + F(1, 2 / 4) + F(1, 3 / 5)) / 3;
  assert.equal(agg.primary, (0.999999995 + second) / 4);
  assert.deepEqual([agg.values['empty_predictions'], agg.values['no_sentence_predictions']], [1, 1]);
});

test('parse errors name the file and record', () => {
  assert.throws(() => samsum.parse('{"a": 1}', 's.json', 'paper'), /s\.json: expected a JSON array/);
  assert.throws(
    () => samsum.parse('[{"id": "1", "summary": "x", "dialogue": "d"}, {"id": "2", "dialogue": "d"}]', 's.json', 'paper'),
    /s\.json: record 1: missing field "summary"/,
  );
  assert.throws(
    () => samsum.parse('[{"id": "1", "summary": 3, "dialogue": "d"}]', 's.json', 'paper'),
    /s\.json: record 0: field "summary" must be a string/,
  );
  assert.throws(() => samsum.parse('[', 's.json', 'paper'), /s\.json: not valid JSON/);
});

const goldenPath = join(dataDir(), '..', 'reference', 'scoring', 'samsum.json');
describe(
  'scorer goldens (paper mode, T from the golden decoded_text)',
  { skip: existsSync(goldenPath) ? false : `${goldenPath} not found` },
  () => {
    type Case = {
      id: string;
      example_index: number;
      prompt: string;
      pad_tokens: number;
      decoded_text: string;
      outcome: Record<string, Record<string, unknown>>;
    };
    const g = existsSync(goldenPath)
      ? (JSON.parse(readFileSync(goldenPath, 'utf8')) as {
          cases: Case[];
          isolated_cases: Case[];
          aggregate: Record<string, Record<string, unknown>>;
          prompt_checks: { example_index: number; prompt: string }[];
        })
      : null;
    for (const variant of ['before', 'after'] as const) {
      test(`${variant}: outcomes, aggregate (bit for bit, BLEU included), crash cases, prompts`, () => {
        const ex = samsum.parse(readFileSync(join(dataDir(), 'samsum', 'test-summarization.json'), 'utf8'), 'samsum', 'paper');
        const it = (i: number): TaskItem => samsum.items(ex[i]!, i)[0]!;
        const T = (c: Case): string => EOS.repeat(c.pad_tokens) + c.decoded_text;
        const run = samsum.paper(ex, variant);
        for (const c of g!.cases) {
          assert.equal(it(c.example_index).prompt, c.prompt, c.id);
          const o = run.score(it(c.example_index), T(c));
          for (const [k, v] of Object.entries(c.outcome[variant]!)) assert.deepEqual(o[k], v, `${c.id}.${k}`);
        }
        const agg = run.aggregate();
        assert.deepEqual(agg.values, g!.aggregate[variant]);
        assert.equal(agg.primary, g!.aggregate[variant]!['rouge_mean_over_818']);
        for (const c of g!.isolated_cases) {
          const r = samsum.paper(ex, variant);
          assert.throws(
            () => r.score(it(c.example_index), T(c)),
            (e: unknown) =>
              e instanceof ScriptCrash &&
              e.predict === c.outcome[variant]!['predict'] &&
              e.pythonError === c.outcome[variant]!['raises'],
          );
          assert.equal(r.aggregate().primary, null);
        }
        for (const pc of g!.prompt_checks) assert.equal(it(pc.example_index).prompt, pc.prompt);
      });
    }
  },
);
