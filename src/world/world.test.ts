/**
 * The world: deterministic per seed (hash snapshot), templates and splits that do not leak into the
 * training text, a vocabulary covering every text, valid edit requests, a loadable tokenizer, and
 * the tasks, requests and tokenizer running through src/eval and src/edit unchanged.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.js';
import { promptTemplate, validateRequest } from '../edit/request.js';
import { randomModel } from '../models/testing.js';
import { evaluateTasks } from '../eval/run.js';
import { evaluateUnedited } from '../eval/editing/evaluate.js';
import { ROME_PRESETS, rome } from '../edit/rome/index.js';
import {
  RELATIONS,
  WORLD_TASK_NAMES,
  editRequests,
  generateWorld,
  heldOutDocuments,
  heldOutText,
  objectOf,
  readWorld,
  recallProbes,
  relation,
  trainingDocumentParts,
  trainingDocuments,
  trainingSections,
  words,
  worldEvalInputs,
  worldHash,
  worldTaskContent,
  worldTasks,
  writeTokenizer,
  writeWorld,
  type RelationId,
  type World,
} from './index.js';
import { fixedWords } from './lexicon.js';
import { createHash } from 'node:crypto';

const tiny = generateWorld({ seed: 0, size: 'tiny' });
const big = generateWorld({ seed: 0, size: 'default' });
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A template's prompt as a regex over text: `{s}` is any one word. */
function promptPattern(text: string): RegExp {
  const prompt = text.slice(0, text.indexOf(' {o}'));
  return new RegExp(`(^| )${escape(prompt).replace('\\{s\\}', '\\S+')}( |$)`);
}

describe('world generation', () => {
  test('the same seed gives the same bytes (hash snapshot); another seed another world', () => {
    const again = generateWorld({ seed: 0, size: 'tiny' });
    assert.equal(worldHash(again), worldHash(tiny));
    assert.equal(sha(trainingDocuments(again).join('\n')), sha(trainingDocuments(tiny).join('\n')));
    // snapshot: update only when generation changes on purpose (and bump WORLD_VERSION)
    assert.equal(worldHash(tiny), '8b56eab4670ea246e2a5639331bf747bb1ef0b2ca549c7f95221a1b94d3684a6');
    assert.equal(sha(trainingDocuments(tiny).join('\n')), 'f9827636f55bb25ec087b12e552c4da01d4c4651c1f92935b6bc5828b2d4f73f');
    assert.equal(worldHash(big), '27179363e83b63437af353d333c9b7434451b4c5a08eef7035e848328f980a62');
    assert.notEqual(worldHash(generateWorld({ seed: 1, size: 'tiny' })), worldHash(tiny));
  });

  test('sizes: tiny ≈ 30 entities, default 100-200 entities and 400-800 facts, vocab ≤ 800', () => {
    assert.ok(tiny.entities.length >= 25 && tiny.entities.length <= 40, `tiny: ${tiny.entities.length} entities`);
    assert.ok(big.entities.length >= 100 && big.entities.length <= 200, `default: ${big.entities.length} entities`);
    assert.ok(big.facts.length >= 400 && big.facts.length <= 800, `default: ${big.facts.length} facts`);
    assert.ok(big.vocab.length <= 800, `vocab ${big.vocab.length}`);
    assert.equal(new Set(big.entities.map((e) => e.name)).size, big.entities.length, 'names are unique');
    for (const e of big.entities) assert.match(e.name, /^[a-z]+$/);
    // every base relation is functional: one object per (subject, relation)
    assert.equal(new Set(big.facts.map((f) => `${f.subject}/${f.relation}`)).size, big.facts.length);
  });

  test('derived facts compose two base facts', () => {
    for (const f of big.derived) {
      const [a, b] = relation(f.relation).via!;
      assert.equal(objectOf(big, objectOf(big, f.subject, a)!, b), f.object);
    }
  });

  test('rejects bad seeds and sizes', () => {
    assert.throws(() => generateWorld({ seed: -1 }), /seed/);
    assert.throws(() => generateWorld({ size: 'huge' as 'tiny' }), /unknown world size/);
  });
});

describe('templates', () => {
  test('each template has one {s} and ends with {o}; every relation holds out a template and trains ≥ 3', () => {
    const ids = new Set<string>();
    for (const r of RELATIONS) {
      assert.ok(r.heldOut.length >= 1, `${r.id}: held-out templates`);
      assert.ok(r.train.length >= 3, `${r.id}: train templates`);
      for (const t of [...r.train, ...r.heldOut]) {
        assert.ok(!ids.has(t.id), `duplicate id ${t.id}`);
        ids.add(t.id);
        assert.equal(t.text.split('{s}').length, 2, t.id);
        assert.match(t.text, / \{o\}( \.)?$/, t.id);
      }
    }
  });

  test('no train prompt continues differently in another train template (the object always follows)', () => {
    const train = RELATIONS.flatMap((r) => r.train);
    for (const a of train) {
      const prompt = a.text.slice(0, a.text.indexOf(' {o}')).replace('{s}', 'X');
      for (const b of train) {
        if (a === b) continue;
        const text = b.text.replace('{s}', 'X');
        assert.ok(!text.startsWith(prompt + ' '), `"${a.text}" is a prefix of "${b.text}"`);
      }
    }
  });

  test('held-out templates only use words of the train templates and tasks (no untrained tokens)', () => {
    const trainWords = new Set(trainingDocuments(big).flatMap(words));
    for (const r of RELATIONS)
      for (const t of r.heldOut)
        for (const w of words(t.text.replace(/\{[so]\}/g, ''))) assert.ok(trainWords.has(w), `${t.id}: "${w}" never trained`);
  });
});

describe('no leakage', () => {
  for (const world of [tiny, big]) {
    test(`${world.size}: no held-out template pattern and no test example in the training text`, () => {
      const docs = trainingDocuments(world);
      for (const r of RELATIONS) {
        for (const t of r.heldOut) {
          const re = promptPattern(t.text);
          const hit = docs.find((d) => re.test(d));
          assert.equal(hit, undefined, `${t.id} ("${t.text}") occurs in training text: "${hit}"`);
        }
      }
      const docSet = new Set(docs);
      const prompts = new Set(docs.map((d) => d.slice(0, d.lastIndexOf(' '))));
      for (const name of WORLD_TASK_NAMES) {
        const { train, test: testSplit } = world.tasks[name];
        assert.ok(testSplit.length > 0 && train.length > 0, `${name}: both splits non-empty`);
        const trainKeys = new Set(train.map((e) => e.key));
        for (const ex of testSplit) {
          assert.ok(!trainKeys.has(ex.key), `${name}: test key ${ex.key} is also a train key`);
          assert.ok(!prompts.has(ex.prompt), `${name}: test prompt in training text: ${ex.prompt}`);
          assert.ok(!docSet.has(`${ex.prompt} ${ex.answer}`), `${name}: test example in training text`);
        }
        assert.equal(new Set(testSplit.map((e) => e.key)).size, testSplit.length, `${name}: test keys distinct`);
      }
    });
  }

  test('trainingDocumentParts: the same documents in the same order, answers after answerFrom words', () => {
    const parts = trainingDocumentParts(tiny, { factRepeats: 2 });
    assert.deepEqual(
      parts.map((p) => p.text),
      trainingDocuments(tiny, { factRepeats: 2 }),
    );
    const answers = new Map(
      WORLD_TASK_NAMES.flatMap((n) => tiny.tasks[n].train.map((e) => [`${e.prompt} ${e.answer}` as string, e] as const)),
    );
    for (const p of parts) {
      const ex = answers.get(p.text);
      assert.equal(p.answerFrom, ex ? words(ex.prompt).length : 0, p.text);
      if (ex) assert.equal(words(p.text).slice(p.answerFrom).join(' '), ex.answer);
    }
  });

  test('passes and taskPerPass: the facts every pass, the next examples of a dealt task each pass', () => {
    const per = 7;
    const pool = big.tasks.nli.train;
    const passes = Math.ceil(pool.length / per) + 2; // wraps around the pool
    const parts = trainingDocumentParts(big, { passes, taskPerPass: { nli: per }, tasks: ['nli', 'sentiment'] });
    const factCount = trainingSections(big).facts.length + trainingSections(big).derived.length;
    const perPass = factCount + per + big.tasks.sentiment.train.length;
    assert.equal(parts.length, passes * perPass);
    const text = (i: number): string => `${pool[i % pool.length]!.prompt} ${pool[i % pool.length]!.answer}`;
    for (const pass of [0, 1, passes - 1]) {
      const docs = parts.slice(pass * perPass, (pass + 1) * perPass).map((d) => d.text);
      const nli = docs.filter((d) => d.startsWith('premise :')).sort();
      const want = Array.from({ length: per }, (_, i) => text(pass * per + i)).sort();
      assert.deepEqual(nli, want, `pass ${pass}`);
      assert.equal(docs.filter((d) => d.startsWith('review :')).length, big.tasks.sentiment.train.length);
    }
    // each pass is shuffled on its own; one pass and no dealing is the plain document list
    assert.notDeepEqual(parts.slice(0, 50), parts.slice(perPass, perPass + 50));
    assert.deepEqual(trainingDocumentParts(tiny, { passes: 1 }), trainingDocumentParts(tiny));
    // a dealt task never repeats an example within a pass, even with a small pool
    const small = trainingDocumentParts(tiny, {
      passes: 2,
      taskPerPass: { nli: 10_000 },
      tasks: ['nli'],
      facts: false,
      derived: false,
    });
    assert.equal(small.length, 2 * tiny.tasks.nli.train.length);
    for (const bad of [0, 1.5, -2])
      assert.throws(() => trainingDocumentParts(tiny, { passes: bad }), /passes must be a positive integer/);
    assert.throws(() => trainingDocumentParts(tiny, { taskPerPass: { nli: 0 } }), /nli must be a positive integer/);
  });

  test('nli and qa-yesno: balanced labels, the claim ends with its object, a false object is absent from the premise', () => {
    for (const world of [tiny, big])
      for (const name of ['nli', 'qa-yesno'] as const) {
        const train = world.tasks[name].train;
        const yes = train.filter((e) => e.answer === 'yes').length;
        assert.ok(Math.abs(2 * yes - train.length) <= 2, `${world.size} ${name}: ${yes} yes of ${train.length}`);
        const keys = new Set(train.map((e) => e.key));
        if (world === big) assert.ok(keys.size > 400, `${name}: the training split spans ${keys.size} facts`);
        for (const ex of [...train, ...world.tasks[name].test]) {
          const [context, claim] = ex.prompt.split(name === 'nli' ? ' hypothesis : ' : ' question : is it true that ');
          const ws = words(claim!);
          const object = ws[ws.length - 1]!;
          const [subject, relationId] = ex.key.split('/') as [string, RelationId];
          const truth = objectOf(world, subject, relationId)!;
          assert.equal(ex.answer, object === truth ? 'yes' : 'no', ex.prompt);
          assert.equal(words(context!).includes(object), ex.answer === 'yes', ex.prompt);
        }
      }
  });

  test('held-out documents are disjoint from the training documents', () => {
    const docs = new Set(trainingDocuments(tiny));
    for (const d of heldOutDocuments(tiny)) assert.ok(!docs.has(d), d);
  });
});

describe('vocabulary', () => {
  const texts = (w: World): string[] => {
    const reqs = editRequests(w, 10, 0);
    return [
      ...trainingDocuments(w),
      heldOutText(w),
      ...recallProbes(w, 'train-templates').flatMap((p) => [p.prompt, p.answer]),
      ...recallProbes(w, 'held-out-templates').flatMap((p) => [p.prompt, p.answer]),
      ...reqs.flatMap((r) => [
        r.prompt,
        r.target_new,
        r.ground_truth!,
        ...r.rephrase_prompts!,
        ...[...r.locality!, ...(r.portability ?? [])].flatMap((p) => [p.prompt, p.ground_truth]),
      ]),
    ];
  };

  const others = [1, 2, 3, 4].map((seed) => generateWorld({ seed, size: 'tiny' }));
  for (const world of [tiny, big, ...others]) {
    test(`${world.size} seed ${world.seed}: every word of every text is in the vocabulary, and every evaluated word is trained`, () => {
      const vocab = new Set(world.vocab);
      const trained = new Set(trainingDocuments(world).flatMap(words));
      for (const t of texts(world)) {
        // space-separated words are exactly the pre-tokenizer's pieces
        const pieces = t.split(' ').filter((w) => w !== '' && w !== '<|endoftext|>');
        assert.deepEqual(pieces, words(t.replaceAll('<|endoftext|>', '')), `pieces of "${t.slice(0, 80)}"`);
        for (const w of pieces) {
          assert.ok(vocab.has(w), `"${w}" is not in the vocabulary`);
          assert.ok(trained.has(w), `"${w}" never occurs in training text`);
        }
      }
      const maxLen = Math.max(...trainingDocuments(world).map((d) => words(d).length));
      assert.ok(maxLen <= 48, `longest document: ${maxLen} words`);
    });
  }

  test('entity names never occur inside another word', () => {
    const all = [...fixedWords(), ...big.entities.map((e) => e.name)];
    for (const e of big.entities) for (const w of all) if (w !== e.name) assert.ok(!w.includes(e.name), `${e.name} in ${w}`);
  });
});

describe('edit requests', () => {
  test('subject in the prompt, one-word target ≠ ground truth, rephrases held out, locality true, portability follows the edit', () => {
    const reqs = editRequests(big, 40, 3);
    assert.equal(reqs.length, 40);
    assert.equal(new Set(reqs.map((r) => r.subject)).size, 40, 'distinct subjects');
    assert.deepEqual(editRequests(big, 40, 3), reqs, 'deterministic');
    const heldOutPrompts = new Set(recallProbes(big, 'held-out-templates').map((p) => p.prompt));
    const trainPrompts = new Map(recallProbes(big, 'train-templates').map((p) => [p.prompt, p.answer]));
    for (const r of reqs) {
      validateRequest(r, String(r.case_id), { needsSubject: true });
      assert.ok(promptTemplate(r).includes('{}'));
      assert.notEqual(r.target_new, r.ground_truth);
      assert.match(r.target_new, /^[a-z0-9]+$/);
      const [subject, rel] = String(r.case_id).split('/') as [string, string];
      assert.equal(objectOf(big, subject, rel as 'born_in'), r.ground_truth);
      assert.equal(trainPrompts.get(r.prompt), r.ground_truth, 'the prompt is a trained prompt of the fact');
      assert.ok(r.rephrase_prompts!.length >= 1);
      for (const p of r.rephrase_prompts!) {
        assert.ok(heldOutPrompts.has(p), `rephrase "${p}" is a held-out template`);
        assert.ok(p.includes(r.subject));
      }
      assert.equal(r.locality!.length, 4);
      for (const l of r.locality!) {
        assert.equal(trainPrompts.get(l.prompt), l.ground_truth, `locality "${l.prompt}" asks a true fact`);
        assert.ok(!l.prompt.includes(r.subject));
      }
      // portability: the two-hop answer implied by target_new, different from today's
      const derived = relation(rel).kind === 'base' ? RELATIONS.find((d) => d.via?.[0] === rel)! : null;
      assert.ok(derived);
      assert.ok(r.portability!.length >= 1);
      for (const p of r.portability!) {
        assert.equal(p.ground_truth, objectOf(big, r.target_new, derived.via![1]));
        assert.notEqual(p.ground_truth, objectOf(big, r.subject, derived.id), 'the edit changes the two-hop answer');
        assert.ok(p.prompt.includes(r.subject));
      }
    }
  });

  test('editing located_in moves the birth/home country of people in that city', () => {
    const [r] = editRequests(big, 1, 0, { relations: ['located_in'] });
    assert.ok(r && r.portability && r.portability.length > 0);
    for (const p of r.portability) assert.equal(p.ground_truth, r.target_new);
    assert.throws(() => editRequests(tiny, 10_000, 0), /n must be/);
  });
});

describe('tokenizer, files and evaluation', () => {
  let dir: string;
  let tok: Tokenizer;
  const setup = async (): Promise<void> => {
    if (tok) return;
    dir = await mkdtemp(join(tmpdir(), 'lmedit-world-'));
    await writeTokenizer(dir, tiny);
    tok = await loadTokenizer(dir);
  };

  test('tokenizer.json loads with loadTokenizer and round-trips; " x" and "x" are the same token', async () => {
    await setup();
    assert.equal(tok.kind, 'hf');
    assert.equal(tok.vocabSize, tiny.vocab.length);
    assert.equal(tok.bosId, 0);
    assert.equal(tok.eosId, 0);
    assert.equal(tok.padId, 0);
    const sentence = trainingSections(tiny).facts[0]!;
    const ids = tok.encode(sentence, { addSpecialTokens: false });
    assert.deepEqual(
      ids,
      sentence.split(' ').map((w) => tiny.vocab.indexOf(w)),
    );
    assert.equal(tok.decode(ids), sentence);
    assert.deepEqual(tok.encode(sentence), [0, ...ids], 'BOS by default');
    assert.equal(tok.decode(tok.encode(sentence), { skipSpecialTokens: true }), sentence);
    const name = tiny.entities[0]!.name;
    const one = tok.encode(name, { addSpecialTokens: false });
    assert.equal(one.length, 1);
    assert.deepEqual(tok.encode(` ${name}`, { addSpecialTokens: false }), one);
    assert.deepEqual(tok.encode('qqqzzz', { addSpecialTokens: false }), [1], 'unknown words are <unk>');
    assert.deepEqual(tok.encode('the ?', { addSpecialTokens: false }), tok.encode('the?', { addSpecialTokens: false }));
  });

  test('writeWorld / readWorld round-trip; a changed hash is refused', async () => {
    await setup();
    await writeWorld(dir, tiny);
    const back = await readWorld(dir);
    assert.equal(worldHash(back), worldHash(tiny));
    const path = join(dir, 'world.json');
    const manifest = JSON.parse(await readFile(path, 'utf8')) as { hash: string; facts: unknown[] };
    assert.equal(manifest.facts.length, tiny.facts.length);
    await writeFile(path, JSON.stringify({ ...manifest, hash: '0'.repeat(64) }));
    await assert.rejects(readWorld(dir), /hash/);
  });

  test('tasks: parse their content, score the first word, have no paper scorer', () => {
    const content = worldTaskContent(tiny, 'test');
    for (const task of worldTasks(tiny)) {
      const examples = task.parse(content[task.name].content, content[task.name].source, 'clean');
      assert.deepEqual(examples, task.examples('test'));
      const run = task.clean(examples);
      examples.forEach((ex, i) => {
        const [item] = task.items(ex, i);
        run.score(item!, i % 2 === 0 ? ` ${ex.answer} .` : ' zzz');
      });
      const agg = run.aggregate();
      assert.equal(agg.values['correct'], Math.ceil(examples.length / 2), task.name);
      assert.throws(() => task.paper(examples, 'before'), /no paper scorer/);
    }
  });

  test('evaluateTasks, the editing metrics and ROME consume the world unchanged (random model)', async () => {
    await setup();
    const model = randomModel(
      {
        model_type: 'gpt2',
        vocab_size: tok.vocabSize,
        n_embd: 16,
        n_layer: 4,
        n_head: 2,
        n_positions: 64,
        layer_norm_epsilon: 1e-5,
      },
      { std: 0.3, seed: 1 },
    );
    const inputs = worldEvalInputs(tiny);
    const { results } = evaluateTasks(model, tok, inputs.tasks, { ...inputs.options, limit: 3 });
    assert.deepEqual(
      results.map((r) => r.task),
      [...WORLD_TASK_NAMES],
    );
    for (const r of results) {
      assert.equal(r.mode, 'clean');
      assert.equal(r.prompts, 3);
      assert.ok(typeof r.primary === 'number');
    }
    const reqs = editRequests(tiny, 2, 0);
    const ev = evaluateUnedited(model, tok, reqs);
    assert.equal(ev.pre.records.length, 2);
    for (const rec of ev.pre.records) {
      assert.ok(typeof rec.rewrite_acc === 'number' && typeof rec.portability_acc === 'number');
    }
    const res = rome.apply(model, reqs.slice(0, 1), ROME_PRESETS['tiny-gpt2']!, {
      tokenizer: tok,
      contextTemplates: ['{}', 'the . {}'],
      apply: false,
    });
    assert.ok(res.deltas.size > 0);
    res.dispose();
  });

  test('cleanup', async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
});
