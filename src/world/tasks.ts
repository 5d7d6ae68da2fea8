/**
 * The general-skill tasks' examples (docs/world.md, "Tasks"). Each task enumerates (or samples)
 * combination keys, shuffles them with its own random stream, and gives the first ones to `test`
 * and the rest to `train`, so no test combination is ever trained on. Every answer is one word; it
 * follows `answer :` (reviews: `sentiment :`), or, in `nli` and `qa-yesno`, the claim it judges.
 */
import type { WorldCore } from './generate.js';
import { entitiesOf } from './lookup.js';
import {
  ARITH_FRAMES,
  ARITH_ITEMS,
  DIALOGUE_TOPICS,
  NEGATIVE_WORDS,
  NER_FRAMES,
  POSITIVE_WORDS,
  REVIEW_FRAMES,
  REVIEW_THINGS,
} from './lexicon.js';
import { relation, render, templatePrompt, type EntityType, type Relation, type Template } from './relations.js';
import { WorldRng } from './rng.js';
import { NUMBER_TOKENS } from './tokenizer.js';
import { WORLD_TASK_NAMES, type Fact, type TaskSplits, type WorldTaskExample, type WorldTaskName } from './types.js';

/** Variants drawn of each training key of the yes/no tasks (then balanced and capped). */
const PER_KEY = 16;

/** Test share of the keys (capped by the size's `taskTest`). */
const TEST_SHARE = 0.2;

function splitKeys<K>(keys: readonly K[], core: WorldCore, rng: WorldRng): { test: K[]; rest: K[] } {
  const shuffled = rng.shuffle(keys);
  const nTest = Math.min(core.spec.taskTest, Math.floor(keys.length * TEST_SHARE));
  return { test: shuffled.slice(0, nTest), rest: shuffled.slice(nTest) };
}

/**
 * The first `n` examples once those that bring a word no earlier one had are moved to the front
 * (order otherwise kept): the training split then holds every word the task shows, so no test
 * prompt meets an untrained token.
 */
function coverFirst(examples: readonly WorldTaskExample[], n: number): WorldTaskExample[] {
  const seen = new Set<string>();
  const first: WorldTaskExample[] = [];
  const later: WorldTaskExample[] = [];
  for (const ex of examples) {
    const ws = `${ex.prompt} ${ex.answer}`.split(' ');
    if (ws.some((w) => !seen.has(w))) {
      first.push(ex);
      for (const w of ws) seen.add(w);
    } else later.push(ex);
  }
  return [...first, ...later].slice(0, n);
}

/**
 * Test examples from the first keys (one each, variant -1), train examples (word-covering first,
 * capped) from the rest: `perKey` variants of each (0, 1, ...), distinct texts only, taken variant
 * by variant across all keys so that a cap spreads over every key instead of exhausting the first
 * ones (a few keys seen many times are memorized, not learned). With `balance`, as many `yes` as
 * `no` answers, alternating.
 */
function splits<K>(
  name: WorldTaskName,
  keys: readonly K[],
  core: WorldCore,
  rng: WorldRng,
  make: (k: K, variant: number) => WorldTaskExample,
  { perKey = 1, balance = false }: { perKey?: number; balance?: boolean } = {},
): TaskSplits {
  const s = splitKeys(keys, core, rng);
  const test = s.test.map((k) => make(k, -1));
  const seen = new Set<string>();
  let train: WorldTaskExample[] = [];
  for (let v = 0; v < perKey; v++)
    for (const k of s.rest) {
      const ex = make(k, v);
      if (seen.has(ex.prompt)) continue;
      seen.add(ex.prompt);
      train.push(ex);
    }
  if (balance) {
    const yes = train.filter((ex) => ex.answer === 'yes');
    const no = train.filter((ex) => ex.answer !== 'yes');
    train = yes.slice(0, no.length).flatMap((ex, i) => [ex, no[i]!]);
  }
  return { test, train: coverFirst(train, core.spec.taskTrain[name]) };
}

/** Whether an example's answer is yes: balanced per key in training (variant parity), a coin flip in test. */
const yesFor = (variant: number, rng: WorldRng): boolean => (variant < 0 ? rng.next() < 0.5 : variant % 2 === 0);

function fill(text: string, slots: Record<string, string>): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) => slots[k] ?? m);
}

const statements = (r: Relation): Template[] => r.train.filter((t) => t.form === 'statement');
const questions = (r: Relation): Template[] => r.train.filter((t) => t.form === 'question');
const factKey = (f: Fact): string => `${f.subject}/${f.relation}`;

/** Values a relation's object can take in this world (entity names, or the years used). */
function objectPool(core: WorldCore, r: Relation): string[] {
  if (r.object === 'year') return [...new Set(core.facts.filter((f) => f.relation === r.id).map((f) => f.object))];
  return entitiesOf(core, r.object);
}

/**
 * A false variant of a fact: the same subject and relation with another object of its type, one
 * that `avoid` (the words of the text it is checked against) does not contain. The contradiction
 * is then in the object, where a reader (or the model's memory) can find it.
 */
function falseVariant(core: WorldCore, f: Fact, rng: WorldRng, avoid: ReadonlySet<string> = new Set()): Fact {
  const r = relation(f.relation);
  const truths = new Set(core.facts.filter((g) => g.relation === f.relation && g.subject === f.subject).map((g) => g.object));
  const objects = objectPool(core, r).filter((o) => !truths.has(o) && !avoid.has(o));
  if (objects.length === 0) throw new Error(`no false variant of ${f.subject} ${f.relation} ${f.object}`);
  return { ...f, object: rng.pick(objects) };
}

/**
 * A statement without its final period: the claim of `nli` and `qa-yesno` ends with its object, the
 * word to check, right before the answer. The check is then one attention step (does this word
 * occur in the premise?); behind `? answer :` it took two, which a two-layer model did not learn in
 * the training budget (docs/world.md, runs 17–).
 */
const claimOf = (statement: string): string => statement.replace(/ \.$/, '');

function reasoning(core: WorldCore, rng: WorldRng): TaskSplits {
  const top = NUMBER_TOKENS.length - 1;
  type Key = { a: number; b: number };
  const keys: Key[] = [];
  for (let a = 0; a <= top; a++) for (let b = 0; b <= top; b++) if (a !== b) keys.push({ a, b });
  const people = entitiesOf(core, 'person');
  const make = (k: Key): WorldTaskExample => {
    const x = rng.pick(ARITH_ITEMS);
    const y = rng.pickOther(ARITH_ITEMS, x);
    const frame = rng.pick(ARITH_FRAMES);
    const prompt = fill(frame.text, { n: rng.pick(people), a: String(k.a), b: String(k.b), x, y });
    return { prompt, answer: k.a > k.b ? x : y, key: `${k.a}/${k.b}` };
  };
  const s = splits('reasoning', keys, core, rng, make);
  // counting puts every number 0..99 in the training text, in order
  const counting = Array.from({ length: top - 2 }, (_, k) => ({
    prompt: `count : ${k} ${k + 1} ${k + 2} answer :`,
    answer: String(k + 3),
    key: `count/${k}`,
  }));
  return { train: [...s.train, ...counting], test: s.test };
}

function nli(core: WorldCore, rng: WorldRng): TaskSplits {
  const make = (f: Fact, variant: number): WorldTaskExample => {
    const r = relation(f.relation);
    const [tA, ...rest] = rng.shuffle(statements(r));
    const premise = render(tA!, f.subject, f.object);
    const yes = yesFor(variant, rng);
    let hypothesis: string;
    if (yes) hypothesis = render(rng.pick(rest), f.subject, f.object);
    else {
      const g = falseVariant(core, f, rng, new Set(premise.split(' ')));
      hypothesis = render(rng.pick(statements(r)), g.subject, g.object);
    }
    return { prompt: `premise : ${premise} hypothesis : ${claimOf(hypothesis)}`, answer: yes ? 'yes' : 'no', key: factKey(f) };
  };
  return splits('nli', core.facts, core, rng, make, { perKey: PER_KEY, balance: true });
}

function qaOpen(core: WorldCore, rng: WorldRng): TaskSplits {
  const make = (f: Fact): WorldTaskExample => {
    const q = rng.pick(questions(relation(f.relation)));
    return { prompt: `question : ${templatePrompt(q, f.subject)} answer :`, answer: f.object, key: factKey(f) };
  };
  return splits('qa-open', core.facts, core, rng, make);
}

function qaYesNo(core: WorldCore, rng: WorldRng): TaskSplits {
  const sentence = (f: Fact): string => render(rng.pick(statements(relation(f.relation))), f.subject, f.object);
  const make = (f: Fact, variant: number): WorldTaskExample => {
    const distractor = rng.pick(core.facts.filter((g) => factKey(g) !== factKey(f)));
    const passage = rng.next() < 0.5 ? [sentence(f), sentence(distractor)] : [sentence(distractor), sentence(f)];
    const yes = yesFor(variant, rng);
    const asked = yes ? f : falseVariant(core, f, rng, new Set(passage.join(' ').split(' ')));
    return {
      prompt: `passage : ${passage.join(' ')} question : is it true that ${claimOf(sentence(asked))}`,
      answer: yes ? 'yes' : 'no',
      key: factKey(f),
    };
  };
  return splits('qa-yesno', core.facts, core, rng, make, { perKey: PER_KEY, balance: true });
}

function sentiment(core: WorldCore, rng: WorldRng): TaskSplits {
  const adjectives = [...POSITIVE_WORDS.map((w) => ({ w, pos: true })), ...NEGATIVE_WORDS.map((w) => ({ w, pos: false }))];
  const keys = REVIEW_FRAMES.flatMap((frame) => REVIEW_THINGS.flatMap((t) => adjectives.map((a) => ({ frame, t, a }))));
  const cities = entitiesOf(core, 'city');
  const make = (k: (typeof keys)[number]): WorldTaskExample => {
    const secondPos = k.frame.rule === 'both' ? k.a.pos : !k.a.pos;
    const b = rng.pick(secondPos ? POSITIVE_WORDS : NEGATIVE_WORDS);
    const text = fill(k.frame.text, { t: k.t, u: rng.pickOther(REVIEW_THINGS, k.t), a: k.a.w, b, c: rng.pick(cities) });
    const positive = k.frame.rule === 'negated' ? !k.a.pos : k.frame.rule === 'second' ? secondPos : k.a.pos;
    return {
      prompt: `review : ${text} sentiment :`,
      answer: positive ? 'positive' : 'negative',
      key: `${k.frame.id}/${k.t}/${k.a.w}`,
    };
  };
  return splits('sentiment', keys, core, rng, make);
}

/** Sample `n` examples with distinct keys (fewer if the space runs out). */
function sampleDistinct(n: number, draw: () => WorldTaskExample): WorldTaskExample[] {
  const seen = new Set<string>();
  const out: WorldTaskExample[] = [];
  for (let tries = 0; out.length < n && tries < n * 50; tries++) {
    const ex = draw();
    if (seen.has(ex.key)) continue;
    seen.add(ex.key);
    out.push(ex);
  }
  return out;
}

function sampledSplits(name: WorldTaskName, core: WorldCore, draw: () => WorldTaskExample): TaskSplits {
  const all = sampleDistinct(core.spec.taskTest + 2 * core.spec.taskTrain[name], draw);
  const nTest = Math.min(core.spec.taskTest, Math.floor(all.length * TEST_SHARE));
  return { test: all.slice(0, nTest), train: coverFirst(all.slice(nTest), core.spec.taskTrain[name]) };
}

function ner(core: WorldCore, rng: WorldRng): TaskSplits {
  return sampledSplits('ner', core, () => {
    const frame = rng.pick(NER_FRAMES);
    const slots: Partial<Record<EntityType, string>> = {};
    for (const type of frame.slots) slots[type] = rng.pick(entitiesOf(core, type));
    const asked = rng.pick(frame.slots);
    const sentence = fill(frame.text, slots as Record<string, string>);
    return {
      prompt: `sentence : ${sentence} . what kind of name is ${slots[asked]!} ? answer :`,
      answer: asked,
      key: `${frame.id}/${frame.slots.map((t) => slots[t]).join('/')}/${asked}`,
    };
  });
}

function dialogue(core: WorldCore, rng: WorldRng): TaskSplits {
  const reply = (topic: (typeof DIALOGUE_TOPICS)[number]): string =>
    fill(topic.reply, { e: topic.type === 'age' ? String(10 + rng.int(80)) : rng.pick(entitiesOf(core, topic.type)) });
  return sampledSplits('dialogue', core, () => {
    const [asked, ...others] = rng.shuffle(DIALOGUE_TOPICS).slice(0, 3);
    const replies = [{ right: true, text: reply(asked!) }, ...others.map((t) => ({ right: false, text: reply(t) }))];
    const order = rng.shuffle(replies);
    const options = order.map((r, i) => `${i + 1} ${r.text}`).join(' ');
    const answer = String(order.findIndex((r) => r.right) + 1);
    return {
      prompt: `dialogue : ${asked!.question} options : ${options} answer :`,
      answer,
      key: `${asked!.id}/${order.map((r) => r.text).join('/')}`,
    };
  });
}

const GENERATORS: Record<WorldTaskName, (core: WorldCore, rng: WorldRng) => TaskSplits> = {
  reasoning,
  nli,
  'qa-open': qaOpen,
  'qa-yesno': qaYesNo,
  sentiment,
  ner,
  dialogue,
};

/** Every task's train and test examples. */
export function generateTasks(core: WorldCore): Record<WorldTaskName, TaskSplits> {
  const out = {} as Record<WorldTaskName, TaskSplits>;
  for (const name of WORLD_TASK_NAMES) out[name] = GENERATORS[name](core, WorldRng.stream(core.seed, `task:${name}`));
  return out;
}
