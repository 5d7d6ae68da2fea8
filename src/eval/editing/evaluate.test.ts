/**
 * The evaluation orders on the real stories260K model with ROME (the stories260K preset):
 * post-each and post-all agree on the last request, single editing measures each edit alone
 * and restores the model bit for bit, every result carries its protocol metadata, and the three
 * record formats `lmedit edit` reads (ZsRE, CounterFact, EasyEdit flat) evaluate as they map.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openModel, type CausalLM } from '../../models/index.js';
import type { Tokenizer } from '../../tokenizer/index.js';
import { rome } from '../../edit/rome/index.js';
import type { RomeHParams } from '../../edit/rome/hparams.js';
import { recordsToRequests } from '../../edit/request.js';
import type { EditRequest } from '../../edit/types.js';
import { assertParamsUnchanged, snapshotParams } from '../../edit/testing.js';
import { modelDir, sharedPath, skipNoShared } from '../../testing.js';
import { evaluateEditedModel, evaluateEdits, evaluatePre, evaluateUnedited, type EditingEvaluation } from './evaluate.js';

const REQUESTS: EditRequest[] = [
  {
    prompt: 'Tom had a big red',
    subject: 'Tom',
    target_new: 'car',
    ground_truth: 'ball',
    case_id: 'tom',
    rephrase_prompts: ['Tom owned a big red'],
    locality: [
      { prompt: 'Once upon a time', ground_truth: 'there was a little girl' },
      { prompt: 'Sam had a big red', ground_truth: 'ball' },
    ],
    portability: [{ prompt: 'Tom drove his big red', ground_truth: 'car' }],
  },
  {
    prompt: 'Lily liked to play with her',
    subject: 'Lily',
    target_new: 'dog',
    ground_truth: 'doll',
    rephrase_prompts: ['Every day Lily liked to play with her'],
    locality: [{ prompt: 'The sun was shining and', ground_truth: 'the birds sang' }],
  },
  {
    prompt: 'Sue saw a big',
    subject: 'Sue',
    target_new: 'tree',
    rephrase_prompts: ['One day Sue saw a big'],
    locality: [{ prompt: 'The cat sat on the', ground_truth: 'mat' }],
  },
];

describe('evaluation orders on stories260K with ROME', { skip: skipNoShared }, () => {
  let model: CausalLM;
  let tok: Tokenizer;
  let hp: RomeHParams;
  const runs = new Map<string, EditingEvaluation>();
  const run = (order: 'post-each' | 'post-all' | 'single', requests = REQUESTS, fluency = false): EditingEvaluation => {
    const snaps = snapshotParams(model);
    const ev = evaluateEdits(
      model,
      rome,
      requests,
      hp,
      { tokenizer: tok, seed: 0 },
      { order, metrics: { exactMatch: true, fluency } },
    );
    assertParamsUnchanged(model, snaps, `not restored after ${order}`);
    return ev;
  };

  before(async () => {
    ({ model, tokenizer: tok } = await openModel(modelDir('stories260K')));
    hp = { ...rome.presets['stories260K']!, v_num_grad_steps: 20 };
    runs.set('post-each', run('post-each', REQUESTS, true));
    runs.set('post-all', run('post-all'));
    runs.set('single', run('single'));
  });

  test('metadata and per-record edit indices', () => {
    for (const [order, ev] of runs) {
      assert.equal(ev.method, 'ROME');
      assert.equal(ev.evalOrder, order);
      assert.equal(ev.batchSize, 1);
      assert.equal(ev.numEdits, 3);
      assert.equal(ev.numRequests, 3);
      assert.deepEqual(
        ev.post!.records.map((r) => [r.index, r.edit]),
        [
          [0, 0],
          [1, 1],
          [2, 2],
        ],
      );
      assert.equal(ev.pre.records[0]!.case_id, 'tom');
      assert.equal(ev.pre.records[0]!.locality_predictions!.length, 2);
    }
  });

  test('pre metrics are the same under every order; the edits work', () => {
    const each = runs.get('post-each')!;
    // only the post-each run sampled fluency texts
    const withoutFluency = (m: Record<string, number | null>) =>
      Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'ngram_entropy'));
    for (const ev of runs.values()) assert.deepEqual(withoutFluency(ev.pre.means), withoutFluency(each.pre.means));
    assert.deepEqual(runs.get('single')!.pre.records, runs.get('post-all')!.pre.records);
    assert.ok(each.post!.means.rewrite_acc! > each.pre.means.rewrite_acc!, 'ROME raises reliability');
    assert.equal(each.post!.means.rewrite_acc, 1);
    assert.equal(each.post!.counterfact!.ES, 1);
    assert.equal(each.post!.records[0]!.counterfact!.ns !== null, true, '"Sam had a big red" -> ball is a neighborhood prompt');
    assert.equal(each.post!.records[2]!.counterfact, undefined, 'no ground_truth, no CounterFact metrics');
    assert.equal(typeof each.post!.means.ngram_entropy, 'number');
  });

  test('post-each and post-all agree on the last request (both see all edits)', () => {
    const each = runs.get('post-each')!.post!.records;
    const all = runs.get('post-all')!.post!.records;
    const strip = ({ ngram_entropy: _a, fluency_text: _b, ...r }: (typeof each)[number]) => r;
    assert.deepEqual(strip(each[2]!), all[2]);
  });

  test('single editing measures each edit alone: the first equals post-each, the last equals editing it alone', () => {
    const each = runs.get('post-each')!.post!.records;
    const single = runs.get('single')!.post!.records;
    const strip = ({ ngram_entropy: _a, fluency_text: _b, ...r }: (typeof each)[number]) => r;
    assert.deepEqual(single[0], strip(each[0]!));
    const alone = run('post-each', [REQUESTS[2]!]).post!.records[0]!;
    assert.deepEqual({ ...single[2]!, index: 0, edit: 0 }, alone);
  });

  test('an edited model given directly: the unedited model against itself changes nothing', () => {
    const ev = evaluateEditedModel(model, model, tok, REQUESTS, { method: 'none' });
    assert.equal(ev.evalOrder, 'edited-model');
    assert.equal(ev.post!.means.locality_acc, 1);
    assert.equal(ev.post!.means.rewrite_acc, ev.pre.means.rewrite_acc);
    const pre = evaluateUnedited(model, tok, REQUESTS);
    assert.equal(pre.evalOrder, 'pre-only');
    assert.equal(pre.post, null);
    assert.throws(
      () => evaluateEdits(model, rome, REQUESTS, hp, { tokenizer: tok }, { order: 'nope' as 'single' }),
      /evaluation order must be one of/,
    );
  });

  test('ZsRE, CounterFact and EasyEdit flat records evaluate as they map', () => {
    const zsre = recordsToRequests(
      JSON.parse(readFileSync(sharedPath('data', 'zsre', 'zsre_mend_eval_portability_gpt4.json'), 'utf8')).slice(0, 2),
      'zsre',
    );
    const flat = recordsToRequests(
      JSON.parse(readFileSync(sharedPath('data', 'counterfact', 'counterfact-val.json'), 'utf8')).slice(0, 2),
      'cf',
    );
    const rome = recordsToRequests(
      [
        {
          case_id: 7,
          requested_rewrite: {
            prompt: 'The mother tongue of {} is',
            subject: 'Danielle Darrieux',
            target_new: { str: 'English' },
            target_true: { str: 'French' },
          },
          paraphrase_prompts: ['Danielle Darrieux spoke', 'Darrieux, Danielle spoke'],
          neighborhood_prompts: ['Michel Rocard is a native speaker of', 'Jean Gabin spoke'],
        },
      ],
      'counterfact',
    );
    const z = evaluatePre(model, tok, zsre).records[0]!;
    assert.equal(typeof z.rewrite_acc, 'number');
    assert.equal(typeof z.rephrase_acc, 'number');
    assert.equal(typeof z.portability_acc, 'number', 'portability New Question / New Answer');
    assert.equal(z.locality_predictions!.length, 1, 'loc / loc_ans');
    const f = evaluatePre(model, tok, flat);
    assert.equal(f.counterfact!.cases, 2);
    assert.notEqual(f.counterfact!.NS, null, 'locality_ground_truth = ground_truth: a neighborhood prompt');
    const c = evaluatePre(model, tok, rome).records[0]!;
    assert.equal(c.rephrase_accs!.length, 2);
    assert.equal(c.locality_predictions!.length, 2);
    assert.notEqual(c.counterfact!.ns, null);
  });
});
