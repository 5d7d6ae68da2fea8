/**
 * CoNLL-2003: the paper script's gold-extraction quirks, counting rules (MISC total, ZeroDivision),
 * prompts, the clean recall and F1 scorers, parser errors, and the scorer goldens.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDir } from '../data.js';
import { legacyCleanup } from '../text.js';
import { cleanGold, conll2003, paperGold, predictedItems, sentenceText } from './conll2003.js';
import { ScriptCrash, type EntityType, type TaskItem } from './types.js';

const FILE = [
  '-DOCSTART- -X- -X- O',
  '',
  'John NNP B-NP B-PER',
  'Smith NNP I-NP I-PER',
  'Corp NNP I-NP B-ORG',
  'said VBD B-VP O',
  'in IN B-PP O',
  'New NNP B-NP B-LOC',
  'York NNP I-NP I-LOC',
  '',
  ', , O O',
  'Paris NNP B-NP B-LOC',
  '',
  'EU NNP B-NP B-ORG',
  'rejects VBZ B-VP O',
  'German JJ B-NP B-MISC',
  'call NN I-NP O',
  '. . O O',
  '',
  '',
].join('\n');
const examples = conll2003.parse(FILE, 'ner.txt', 'paper');
const item = (i: number, t: EntityType): TaskItem => conll2003.items(examples[i]!, i).find((it) => it.entityType === t)!;
const T = (i: number, t: EntityType, continuation: string): string => legacyCleanup(item(i, t).prompt + continuation);

test('parse: blank-line-terminated blocks, -DOCSTART- included', () => {
  assert.equal(examples.length, 4);
  assert.deepEqual(examples[0]!.tokens, ['-DOCSTART-']);
  assert.deepEqual(examples[2]!.tags, ['O', 'B-LOC']);
  assert.equal(examples[3]!.line, 19);
});

test('prompts: four per block; sentence text attaches "," and "." and drops the first character', () => {
  assert.deepEqual(
    conll2003.items(examples[1]!, 1).map((it) => [it.entityType, it.prompt]),
    [
      ['PER', 'Please identify Person Entity from the given text. Text: John Smith Corp said in New York Entity:'],
      ['LOC', 'Please identify Location Entity from the given text. Text: John Smith Corp said in New York Entity:'],
      ['ORG', 'Please identify Organization Entity from the given text. Text: John Smith Corp said in New York Entity:'],
      ['MISC', 'Please identify Miscellaneous Entity from the given text. Text: John Smith Corp said in New York Entity:'],
    ],
  );
  assert.equal(item(2, 'PER').prompt, 'Please identify Person Entity from the given text. Text:  Paris Entity:'); // ", Paris"[1:]
  assert.equal(
    item(3, 'LOC').prompt,
    'Please identify Location Entity from the given text. Text: EU rejects German call. Entity:',
  );
  assert.equal(item(0, 'ORG').prompt, 'Please identify Organization Entity from the given text. Text: -DOCSTART- Entity:');
  assert.equal(sentenceText([',']), '');
  assert.equal(sentenceText(['.', 'a']), ' a');
});

test('paper gold: runs to the next O (absorbing other types), loses the last token at the block end, "" for a last single token', () => {
  const b1 = examples[1]!;
  assert.deepEqual(paperGold(b1.tokens, b1.tags, 'PER'), ['John Smith Corp']); // absorbs the ORG
  assert.deepEqual(paperGold(b1.tokens, b1.tags, 'ORG'), ['Corp']);
  assert.deepEqual(paperGold(b1.tokens, b1.tags, 'LOC'), ['New']); // "New York" at the end loses "York"
  assert.deepEqual(paperGold(b1.tokens, b1.tags, 'MISC'), []);
  assert.deepEqual(paperGold(examples[2]!.tokens, examples[2]!.tags, 'LOC'), ['']); // a single last token
  // B-PER B-PER at the end: the first runs to the last index (one token), the scan resumes past the second
  assert.deepEqual(paperGold(['a', 'b', 'c'], ['O', 'B-PER', 'B-PER'], 'PER'), ['b']);
  // the scan resumes at m+1: an entity right after the O that ended the previous one is still found
  assert.deepEqual(paperGold(['A', 'x', 'B', 'y'], ['B-PER', 'O', 'B-PER', 'O'], 'PER'), ['A', 'B']);
});

test('clean gold: maximal B-X I-X* runs, joined like the sentence text', () => {
  const b1 = examples[1]!;
  assert.deepEqual(cleanGold(b1.tokens, b1.tags, 'PER'), ['John Smith']);
  assert.deepEqual(cleanGold(b1.tokens, b1.tags, 'LOC'), ['New York']);
  assert.deepEqual(cleanGold(['U', '.', 'S', 'x'], ['B-LOC', 'I-LOC', 'I-LOC', 'O'], 'LOC'), ['U. S']);
  assert.deepEqual(cleanGold(['A', 'B'], ['B-PER', 'B-PER'], 'PER'), ['A', 'B']);
});

describe('paper scorer', () => {
  test('counts: substring matches of the gold, "" matches anything, the MISC total quirk, the empty-prediction branch', () => {
    const run = conll2003.paper(examples, 'before');
    const outs = [
      run.score(item(1, 'PER'), T(1, 'PER', ' John Smith<|endoftext|>')),
      run.score(item(1, 'LOC'), T(1, 'LOC', ' New York')),
      run.score(item(2, 'LOC'), T(2, 'LOC', ' nothing')),
      run.score(item(3, 'PER'), T(3, 'PER', ' EU')),
      run.score(item(3, 'MISC'), T(3, 'MISC', ' German')),
      run.score(item(1, 'MISC'), T(1, 'MISC', ' x')),
      run.score(item(0, 'PER'), T(0, 'PER', '<|endoftext|>')),
      run.score(item(0, 'MISC'), T(0, 'MISC', '<|endoftext|>')),
      run.score(item(0, 'ORG'), T(0, 'ORG', '')),
    ];
    assert.deepEqual(
      outs.map((o) => [o['predict'], o['count'], o['total']]),
      [
        [' John Smith<|endoftext|>', 0, 1],
        [' New York', 1, 1],
        [' nothing', 1, 1],
        [' EU', 0, 0], // no PER gold: nothing counted
        [' German', 1, 1],
        [' x', 0, 1], // no MISC gold, some prediction: MISC total + 1
        ['<|endoftext|>', 0, 0],
        ['<|endoftext|>', 0, 1], // DOCSTART blocks too
        ['', 1, 1], // no gold and an empty prediction
      ],
    );
    assert.deepEqual(outs[0]!['gold'], ['John Smith Corp']);
    const agg = run.aggregate();
    assert.deepEqual(agg.values, {
      count_per: 0,
      total_per: 1,
      count_loc: 2,
      total_loc: 2,
      count_org: 1,
      total_org: 1,
      count_misc: 1,
      total_misc: 3,
      acc_per: 0,
      acc_loc: 1,
      acc_org: 1,
      acc_misc: 1 / 3,
      acc_total: (0 + 1 + 1 + 1 / 3) / 4,
      result_file_tail: '0.0\n1.0\n1.0\n0.3333333333333333\n0.5833333333333334\n',
      exception: null,
    });
    assert.equal(agg.primary, (0 + 1 + 1 + 1 / 3) / 4);
  });

  test('" ," after "Entity:" is glued by the decode clean-up; a type with total 0 raises ZeroDivisionError', () => {
    const run = conll2003.paper(examples, 'after');
    assert.equal(run.score(item(1, 'PER'), T(1, 'PER', ' , John'))['predict'], ', John');
    const agg = run.aggregate();
    assert.equal(agg.primary, null);
    assert.equal(agg.values['exception'], 'ZeroDivisionError: division by zero');
    assert.equal(agg.values['acc_per'], 0); // computed before the division that raised
    assert.equal(agg.values['acc_loc'], null);
    assert.equal(agg.values['result_file_tail'], null);
  });

  test('an item without an entity type is an error; a text without "Entity:" is the IndexError crash', () => {
    assert.throws(
      () => conll2003.paper(examples, 'before').score({ exampleIndex: 1, prompt: 'x' }, 'Entity: y'),
      /no entity type/,
    );
    const run = conll2003.paper(examples, 'before');
    assert.throws(
      () => run.score(item(1, 'PER'), 'no marker'),
      (e: unknown) => e instanceof ScriptCrash && e.pythonError === 'IndexError: list index out of range',
    );
    assert.deepEqual(
      [run.aggregate().primary, run.aggregate().values['exception']],
      [null, 'IndexError: list index out of range'],
    );
  });
});

describe('clean scorer', () => {
  test('recall: DOCSTART skipped, G from its first non-blank line, case-sensitive substrings, mean of the four types', () => {
    const run = conll2003.clean(examples);
    assert.deepEqual(run.score(item(0, 'PER'), ' John'), { skipped: true });
    const o = run.score(item(1, 'PER'), ' John Smith and Corp\nYork');
    assert.deepEqual(o, { gold: ['John Smith'], predict: 'John Smith and Corp', matched: 1, total: 1 });
    assert.equal(run.score(item(1, 'LOC'), ' York')['matched'], 0);
    assert.equal(run.score(item(2, 'LOC'), ' Paris')['matched'], 1);
    assert.equal(run.score(item(3, 'MISC'), '\nGerman')['matched'], 1);
    assert.equal(run.score(item(3, 'ORG'), ' eu')['matched'], 0);
    assert.equal(run.score(item(3, 'PER'), ' EU')['total'], 0);
    const agg = run.aggregate();
    assert.equal(agg.primary, (1 + 0.5 + 0 + 1) / 4);
    assert.deepEqual(
      [agg.values['recall_per'], agg.values['recall_loc'], agg.values['recall_org'], agg.values['recall_misc']],
      [1, 0.5, 0, 1],
    );
    assert.equal(agg.values['skipped_docstart_items'], 1);
  });

  test('nerF1: items split on "," and ";", exact matches, micro-F1 per type, mean of the types', () => {
    assert.deepEqual(predictedItems(' John Smith, Corp; ; x '), ['John Smith', 'Corp', 'x']);
    const run = conll2003.clean(examples, { nerF1: true });
    assert.equal(run.score(item(1, 'PER'), ' John Smith, Corp')['tp'], 1);
    assert.equal(run.score(item(1, 'ORG'), ' Corp; Corp')['tp'], 1); // a gold entity is matched once
    run.score(item(1, 'LOC'), ' New York');
    run.score(item(2, 'LOC'), ' Paris');
    run.score(item(3, 'MISC'), ' None');
    run.score(item(3, 'ORG'), ' EU');
    const agg = run.aggregate();
    // PER 2·1/(2+1), ORG 2·2/(3+2), LOC 2·2/(2+2), MISC 0
    assert.deepEqual(
      [agg.values['f1_per'], agg.values['f1_org'], agg.values['f1_loc'], agg.values['f1_misc']],
      [2 / 3, 4 / 5, 1, 0],
    );
    assert.deepEqual([agg.values['precision_org'], agg.values['recall_org']], [2 / 3, 1]);
    assert.equal(agg.primary, (2 / 3 + 1 + 4 / 5 + 0) / 4);
  });
});

test('parse: errors name the file and line; CRLF; two blank lines make an empty block; an unterminated last block is dropped', () => {
  assert.throws(
    () => conll2003.parse('a B C O\n\nx y z\n\n', 'bad.txt', 'paper'),
    /bad\.txt: line 3: expected 4 fields \(token POS chunk NER\), got 3/,
  );
  assert.throws(() => conll2003.parse('a B C O extra\n\n', 'bad.txt', 'paper'), /bad\.txt: line 1: expected 4 fields/);
  const ex = conll2003.parse('a B C O\r\n\r\n\r\nb B C B-PER\r\nc B C O\r\n', 'f.txt', 'paper');
  assert.deepEqual(
    ex.map((e) => e.tokens),
    [['a'], []],
  );
  assert.equal(conll2003.items(ex[1]!, 1)[0]!.prompt, 'Please identify Person Entity from the given text. Text:  Entity:');
});

const goldenPath = join(dataDir(), '..', 'reference', 'scoring', 'conll2003.json');
describe(
  'scorer goldens (paper mode, T from the golden decoded_text)',
  { skip: existsSync(goldenPath) ? false : `${goldenPath} not found` },
  () => {
    type Gen = { prompt: string; pad_tokens: number; decoded_text: string; outcome: Record<string, Record<string, unknown>> };
    type Case = { id: string; example_index: number; types: Record<EntityType, Gen> };
    type Agg = Record<string, Record<string, unknown>>;
    const g = existsSync(goldenPath)
      ? (JSON.parse(readFileSync(goldenPath, 'utf8')) as {
          cases: Case[];
          aggregate: Agg;
          aggregate_edge_runs: { example_indices: number[]; aggregate: Agg }[];
          prompt_checks: { example_index: number; prompts: Record<EntityType, string> }[];
        })
      : null;
    for (const variant of ['before', 'after'] as const) {
      test(`${variant}: outcomes per type, aggregate, the DOCSTART-only edge run, prompts`, () => {
        const ex = conll2003.parse(readFileSync(join(dataDir(), 'conll2003', 'test-NER.txt'), 'utf8'), 'conll2003', 'paper');
        assert.equal(ex.length, 3466);
        const it = (i: number, t: EntityType): TaskItem => conll2003.items(ex[i]!, i).find((x) => x.entityType === t)!;
        const run = conll2003.paper(ex, variant);
        for (const c of g!.cases) {
          for (const [t, gen] of Object.entries(c.types) as [EntityType, Gen][]) {
            assert.equal(it(c.example_index, t).prompt, gen.prompt, `${c.id} ${t}`);
            const o = run.score(it(c.example_index, t), '<|endoftext|>'.repeat(gen.pad_tokens) + gen.decoded_text);
            for (const [k, v] of Object.entries(gen.outcome[variant]!)) assert.deepEqual(o[k], v, `${c.id} ${t}.${k}`);
          }
        }
        const agg = run.aggregate();
        assert.deepEqual(agg.values, g!.aggregate[variant]);
        assert.equal(agg.primary, g!.aggregate[variant]!['acc_total']);
        for (const edge of g!.aggregate_edge_runs) {
          const r = conll2003.paper(ex, variant);
          for (const i of edge.example_indices)
            for (const x of conll2003.items(ex[i]!, i)) r.score(x, legacyCleanup(`${x.prompt}<|endoftext|>`));
          assert.deepEqual(r.aggregate().values, edge.aggregate[variant]);
          assert.equal(r.aggregate().primary, null);
        }
        for (const pc of g!.prompt_checks)
          for (const [t, p] of Object.entries(pc.prompts) as [EntityType, string][])
            assert.equal(it(pc.example_index, t).prompt, p);
      });
    }
  },
);
