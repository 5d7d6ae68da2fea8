/**
 * NQ-open: the paper scorer's scan and never-reset flag on hand-made texts, Python/numpy rounding,
 * the clean span rule, parser errors, and the scorer goldens (../shared) without the tokenizer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../data.js';
import { legacyCleanup } from '../text.js';
import { nqOpen } from './nq-open.js';
import { numpyRound, pyRound } from '../python.js';
import { ScriptCrash, type TaskItem } from './types.js';

const jsonl = (recs: { question: string; answer: string[]; output?: string[] }[]): string =>
  recs.map((r) => JSON.stringify({ output: ['\n\nA passage.'], ...r })).join('\n') + '\n';

const examples = nqOpen.parse(
  jsonl([
    { question: 'q0', answer: ['Paris'] },
    { question: 'q1', answer: ['New York', 'NYC'] },
    { question: 'q2', answer: ['the Beatles'] },
    { question: 'q3', answer: [] },
  ]),
  'nq.jsonl',
  'paper',
);
const item = (i: number): TaskItem => nqOpen.items(examples[i]!, i)[0]!;

test('python round(x, 4) is half-even on the exact binary value; numpy rounds x·10⁴ with rint', () => {
  assert.equal(pyRound(18 / 3610, 4), 0.005);
  assert.equal(pyRound(2.675, 2), 2.67); // 2.675 is 2.67499999…
  assert.equal(pyRound(1.03125, 4), 1.0312); // an exact tie goes to even (toFixed gives 1.0313)
  assert.equal(pyRound(1.03135, 4), 1.0313); // 1.03135 is 1.031349999…
  assert.equal(pyRound(0.40625, 4), 0.4062); // 13/32: an exact tie, to even
  assert.equal(pyRound(0.46875, 4), 0.4688); // 15/32: an exact tie, to even
  assert.equal(pyRound(-0.00015, 4), -0.0001);
  assert.equal(pyRound(50.64375, 4), 50.6437); // just below the tie
  assert.equal(numpyRound(50.64375, 4), 50.6438); // 50.64375·10⁴ rounds to 506437.5, rint → even
  assert.equal(numpyRound(47.25625, 4), 47.2562);
  assert.equal(pyRound(47.25625, 4), 47.2563);
  assert.equal(numpyRound(1239 / 23, 4), 53.8696);
});

test('prompt: passage then question, no answer cue', () => {
  assert.equal(
    item(0).prompt,
    'Refer to the passage below and answer the following question. Passage: \n\nA passage. Question: q0',
  );
});

describe('paper scorer', () => {
  test('before the first multi-word hit every matching single word counts (hits can be > 1)', () => {
    const run = nqOpen.paper(examples, 'before');
    const o = run.score(item(0), 'x Paris y paris, z');
    assert.deepEqual(o, {
      gold: ['Paris'],
      predict: 'x paris y paris z',
      hits: 2,
      flag_before: false,
      flag_after: false,
      answer_length_appended: 5,
    });
  });

  test('a multi-word hit sets the flag for good; afterwards only spans from w[0] (and w[-1]) can hit', () => {
    const run = nqOpen.paper(examples, 'after');
    const a = run.score(item(1), 'I was in New York today');
    assert.deepEqual([a['hits'], a['flag_before'], a['flag_after'], a['answer_length_appended']], [1, false, true, 6]);
    const b = run.score(item(0), 'x Paris y');
    assert.deepEqual([b['hits'], b['flag_before'], b['flag_after']], [0, true, true]);
    const c = run.score(item(1), 'New York is big'); // span from w[0]
    assert.equal(c['hits'], 1);
    const d = run.score(item(0), 'we go to Paris'); // the last word
    assert.deepEqual([d['hits'], d['answer_length_appended']], [1, null]);
    const agg = run.aggregate();
    assert.deepEqual(agg.values, {
      exact_match_count: 3,
      flag_final: true,
      n_answer_lengths: 3,
      em: 0.0008, // round(3/3610, 4)
      lens: numpyRound((6 + 3 + 4) / 3, 4),
      result_file_tail: '0.0008\t4.3333\n',
      exception: null,
    });
    assert.equal(agg.primary, 0.0008);
    // the same case scored alone starts with the flag down
    assert.equal(nqOpen.paper(examples, 'before').score(item(0), 'x Paris y')['hits'], 1);
  });

  test('articles vanish before matching; "Answer:" keeps the text after the last one; EOS fuses to the last word', () => {
    const run = nqOpen.paper(examples, 'before');
    assert.equal(run.score(item(2), 'The answer: Beatles')['hits'], 1);
    const o = run.score(item(0), 'Paris is it. Answer: London');
    assert.deepEqual([o['predict'], o['hits']], ['london', 0]);
    const e = run.score(item(0), 'foo Paris<|endoftext|>');
    assert.deepEqual([e['predict'], e['hits']], ['foo parisendoftext', 0]);
  });

  test('no answer_lengths (every hit by the first/last word): lens is nan; the before script writes no newline', () => {
    const run = nqOpen.paper(examples, 'before');
    run.score(item(0), 'Paris x');
    const agg = run.aggregate();
    assert.equal(agg.values['lens'], 'nan');
    assert.equal(agg.values['result_file_tail'], '0.0003\tnan');
  });

  test('an empty gold list raises like max([]) and the aggregate becomes the crash', () => {
    const run = nqOpen.paper(examples, 'before');
    assert.throws(
      () => run.score(item(3), 'anything'),
      (e: unknown) =>
        e instanceof ScriptCrash && e.pythonError === 'ValueError: max() arg is an empty sequence' && e.predict === 'anything',
    );
    const agg = run.aggregate();
    assert.equal(agg.primary, null);
    assert.equal(agg.values['exception'], 'ValueError: max() arg is an empty sequence');
  });
});

describe('clean scorer', () => {
  test('a normalised gold as a run of whole words in G, at most one hit per example, over the items scored', () => {
    const run = nqOpen.clean(examples);
    assert.equal(run.score(item(0), ' Paris, France.')['hit'], 1);
    assert.equal(run.score(item(0), ' Parisian food')['hit'], 0);
    assert.equal(run.score(item(1), ' NYC or New York')['hit'], 1);
    assert.equal(run.score(item(2), ' Beatles')['hit'], 1); // "the" is an article
    assert.deepEqual(run.aggregate(), { primary: 0.75, values: { hits: 3, n: 4, score: 0.75, rule: 'span' } });
  });

  test('strict: exact match of the first line of G', () => {
    const run = nqOpen.clean(examples, { strict: true });
    assert.equal(run.score(item(0), ' Paris\nmore text')['hit'], 1);
    assert.equal(run.score(item(0), ' Paris, France')['hit'], 0);
    assert.equal(run.score(item(1), '\nnyc.')['hit'], 1); // leading whitespace skipped
    assert.equal(run.aggregate().primary, 2 / 3);
  });
});

test('parse errors name the file and line', () => {
  assert.throws(
    () => nqOpen.parse('{"question": "q", "answer": ["a"], "output": ["p"]}\n{bad json\n', 'f.jsonl', 'paper'),
    /f\.jsonl: line 2: not valid JSON/,
  );
  assert.throws(
    () => nqOpen.parse('{"question": "q", "answer": "a", "output": ["p"]}\n', 'f.jsonl', 'paper'),
    /f\.jsonl: line 1: field "answer" must be a list of strings/,
  );
  assert.throws(
    () => nqOpen.parse('{"question": "q", "answer": ["a"], "output": []}\n', 'f.jsonl', 'paper'),
    /f\.jsonl: line 1: field "output"/,
  );
  assert.throws(
    () => nqOpen.parse('{"answer": ["a"], "output": ["p"]}\n', 'f.jsonl', 'paper'),
    /f\.jsonl: line 1: missing field "question"/,
  );
});

const goldenPath = join(dataDir(), '..', 'reference', 'scoring', 'nq-open.json');
describe(
  'scorer goldens (paper mode, T from the golden decoded_text)',
  { skip: existsSync(goldenPath) ? false : `${goldenPath} not found` },
  () => {
    type Gen = {
      example_index: number;
      id: string;
      prompt: string;
      pad_tokens: number;
      decoded_text: string;
      outcome: Record<string, Record<string, unknown>>;
      outcome_scored_alone: Record<string, Record<string, unknown>>;
    };
    const g = existsSync(goldenPath)
      ? (JSON.parse(readFileSync(goldenPath, 'utf8')) as {
          cases: Gen[];
          aggregate: Record<string, Record<string, unknown>>;
          aggregate_edge_runs: { example_indices: number[]; aggregate: Record<string, Record<string, unknown>> }[];
          prompt_checks: { example_index: number; prompt: string }[];
        })
      : null;
    const data = (): ReturnType<typeof nqOpen.parse> =>
      nqOpen.parse(readFileSync(join(dataDir(), 'nq-open', 'test-OpenDomainQA.jsonl'), 'utf8'), 'nq-open', 'paper');

    for (const variant of ['before', 'after'] as const) {
      test(`${variant}: outcomes in sequence and alone, aggregate, edge run, prompts`, () => {
        const ex = data();
        const it = (i: number): TaskItem => nqOpen.items(ex[i]!, i)[0]!;
        const run = nqOpen.paper(ex, variant);
        for (const c of g!.cases) {
          assert.equal(it(c.example_index).prompt, c.prompt, c.id);
          const T = '<|endoftext|>'.repeat(c.pad_tokens) + c.decoded_text;
          const o = run.score(it(c.example_index), T);
          for (const [k, v] of Object.entries(c.outcome[variant]!)) assert.deepEqual(o[k], v, `${c.id}.${k}`);
          const alone = nqOpen.paper(ex, variant).score(it(c.example_index), T);
          for (const [k, v] of Object.entries(c.outcome_scored_alone[variant]!))
            assert.deepEqual(alone[k], v, `${c.id} alone .${k}`);
        }
        const agg = run.aggregate();
        assert.deepEqual(agg.values, g!.aggregate[variant]);
        assert.equal(agg.primary, g!.aggregate[variant]!['em']);
        for (const edge of g!.aggregate_edge_runs) {
          const r = nqOpen.paper(ex, variant);
          for (const i of edge.example_indices)
            r.score(it(i), legacyCleanup(`${it(i).prompt} ${ex[i]!.answer.find((a) => !a.includes(' '))!}`));
          assert.deepEqual(r.aggregate().values, edge.aggregate[variant]);
        }
        for (const pc of g!.prompt_checks) assert.equal(it(pc.example_index).prompt, pc.prompt);
      });
    }
  },
);
