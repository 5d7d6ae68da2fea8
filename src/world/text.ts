/**
 * The world as text: training documents (facts in the train templates, derived facts, task training
 * examples), held-out documents (facts in the held-out templates, task test examples) for
 * perplexity, and recall probes.
 */
import { RELATIONS, relation, render, templatePrompt, type RelationId, type Template } from './relations.js';
import { WorldRng } from './rng.js';
import { words } from './tokenizer.js';
import { WORLD_TASK_NAMES, type Fact, type World, type WorldTaskExample, type WorldTaskName } from './types.js';

/** The special token: BOS, EOS and pad. Documents are meant to be packed as `<|endoftext|> doc <|endoftext|> doc ...`. */
export const EOT = '<|endoftext|>';
export const UNK = '<unk>';

/** A task example as training text: its prompt, a space, its answer. */
export function exampleText(ex: WorldTaskExample): string {
  return `${ex.prompt} ${ex.answer}`;
}

/** Training text by source, unshuffled: one document per line. */
export interface TrainingSections {
  /** every base fact in every train template of its relation */
  facts: string[];
  /** every derived (two-hop) fact in every train template of its relation */
  derived: string[];
  /** each task's training examples, formatted as their evaluation prompt + ' ' + answer */
  tasks: Record<WorldTaskName, string[]>;
}

function factLines(facts: readonly Fact[], pick: (rel: RelationId) => readonly Template[]): string[] {
  return facts.flatMap((f) => pick(f.relation).map((t) => render(t, f.subject, f.object)));
}

export function trainingSections(world: World): TrainingSections {
  const tasks = {} as Record<WorldTaskName, string[]>;
  for (const name of WORLD_TASK_NAMES) tasks[name] = world.tasks[name].train.map(exampleText);
  return {
    facts: factLines(world.facts, (r) => relation(r).train),
    derived: factLines(world.derived, (r) => relation(r).train),
    tasks,
  };
}

export interface TrainingDocumentOptions {
  /** include base facts (default true) */
  facts?: boolean;
  /** include derived facts (default true) */
  derived?: boolean;
  /** include task examples: all (default true), none, or the listed tasks */
  tasks?: boolean | readonly WorldTaskName[];
  /** copies of each fact and derived-fact line (default 1): facts need more repetitions than skills */
  factRepeats?: number;
  /** shuffle seed (default: the world's seed) */
  seed?: number;
  /**
   * passes over the text (default 1), each shuffled on its own: the facts and the task examples
   * each pass, except the tasks of `taskPerPass`
   */
  passes?: number;
  /**
   * examples of these tasks per pass, dealt in turn from their training splits (which are larger),
   * so that each pass shows the next ones: a few examples seen many times are memorized, many
   * examples seen a few times are learned (docs/world.md, runs 17–)
   */
  taskPerPass?: Partial<Record<WorldTaskName, number>>;
}

/**
 * The training documents, one sentence or task example each, shuffled deterministically. None uses
 * a held-out template, and none holds a test example.
 * @example const docs = trainingDocuments(world); // ['kato plays the lunaphone .', 'premise : ... hypothesis : ... yes', ...]
 */
export function trainingDocuments(world: World, opts: TrainingDocumentOptions = {}): string[] {
  return trainingDocumentParts(world, opts).map((d) => d.text);
}

/** A training document and where its answer starts. */
export interface TrainingDocument {
  text: string;
  /**
   * Words (= tokens of the world tokenizer) before the answer: a task example's prompt length, 0
   * for a fact. A trainer that learns answers only starts the loss here.
   */
  answerFrom: number;
}

/**
 * {@link trainingDocuments} with each document's answer start, in the same order.
 * @example trainingDocumentParts(world)[0] // { text: 'count : 17 18 19 answer : 20', answerFrom: 7 }
 */
export function trainingDocumentParts(world: World, opts: TrainingDocumentOptions = {}): TrainingDocument[] {
  const repeats = opts.factRepeats ?? 1;
  const passes = opts.passes ?? 1;
  for (const [name, n] of [['factRepeats', repeats], ['passes', passes], ...Object.entries(opts.taskPerPass ?? {})] as const)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${n}`);
  const s = trainingSections(world);
  const facts: TrainingDocument[] = [];
  const asFacts = (lines: string[]): TrainingDocument[] => lines.map((text) => ({ text, answerFrom: 0 }));
  for (let k = 0; k < repeats; k++) {
    if (opts.facts ?? true) facts.push(...asFacts(s.facts));
    if (opts.derived ?? true) facts.push(...asFacts(s.derived));
  }
  const tasks = opts.tasks ?? true;
  const names = tasks === true ? WORLD_TASK_NAMES : tasks === false ? [] : tasks;
  // each task's documents are made once and dealt from on every pass
  const pools = names.map((name) => ({
    name,
    docs: world.tasks[name].train.map((ex): TrainingDocument => ({ text: exampleText(ex), answerFrom: words(ex.prompt).length })),
  }));
  const dealt = new Map<WorldTaskName, number>(); // the next example to deal, per task
  const out: TrainingDocument[] = [];
  for (let pass = 0; pass < passes; pass++) {
    const docs = [...facts];
    for (const { name, docs: pool } of pools) {
      const per = opts.taskPerPass?.[name];
      if (per === undefined || pool.length === 0) docs.push(...pool);
      else {
        const from = dealt.get(name) ?? 0;
        const n = Math.min(per, pool.length);
        for (let i = 0; i < n; i++) docs.push(pool[(from + i) % pool.length]!);
        dealt.set(name, (from + n) % pool.length);
      }
    }
    out.push(...WorldRng.stream(opts.seed ?? world.seed, pass === 0 ? 'documents' : `documents/${pass}`).shuffle(docs));
  }
  return out;
}

/** Held-out documents: every fact (base and derived) in every held-out template, then every task test example. */
export function heldOutDocuments(world: World): string[] {
  return [
    ...factLines(world.facts, (r) => relation(r).heldOut),
    ...factLines(world.derived, (r) => relation(r).heldOut),
    ...WORLD_TASK_NAMES.flatMap((n) => world.tasks[n].test.map(exampleText)),
  ];
}

/**
 * Held-out world text for perplexity: {@link heldOutDocuments}, each preceded by `<|endoftext|>`
 * (the packing the training documents are meant to have).
 */
export function heldOutText(world: World): string {
  return heldOutDocuments(world)
    .map((d) => `${EOT} ${d}`)
    .join(' ');
}

/** A recall probe: a fact's prompt in one template and the object that should follow. */
export interface RecallProbe {
  prompt: string;
  answer: string;
  subject: string;
  relation: RelationId;
  /** template id, e.g. `born_in.h1` */
  template: string;
}

export type ProbeSplit = 'train-templates' | 'held-out-templates';

export interface RecallProbeOptions {
  /** base facts, derived facts, or both (default `all`) */
  kinds?: 'base' | 'derived' | 'all';
  /** only these relations */
  relations?: readonly RelationId[];
  /** only statements or only questions (default both) */
  form?: Template['form'];
}

/**
 * One probe per fact and template of the split, for greedy recall measurement (the answer is one word).
 * @example recallProbes(world, 'held-out-templates', { kinds: 'base' })[0] // { prompt: 'the city where kato was born is', answer: 'tamor', ... }
 */
export function recallProbes(world: World, split: ProbeSplit, opts: RecallProbeOptions = {}): RecallProbe[] {
  if (split !== 'train-templates' && split !== 'held-out-templates') {
    throw new Error(`recall probe split must be train-templates or held-out-templates, got ${String(split)}`);
  }
  const kinds = opts.kinds ?? 'all';
  const facts = [...(kinds !== 'derived' ? world.facts : []), ...(kinds !== 'base' ? world.derived : [])];
  const wanted = opts.relations ? new Set(opts.relations) : null;
  const out: RecallProbe[] = [];
  for (const r of RELATIONS) {
    if (wanted && !wanted.has(r.id)) continue;
    const ts = (split === 'train-templates' ? r.train : r.heldOut).filter((t) => !opts.form || t.form === opts.form);
    for (const f of facts) {
      if (f.relation !== r.id) continue;
      for (const t of ts) {
        out.push({ prompt: templatePrompt(t, f.subject), answer: f.object, subject: f.subject, relation: r.id, template: t.id });
      }
    }
  }
  return out;
}
