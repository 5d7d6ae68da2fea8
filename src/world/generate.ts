/**
 * World generation: entities with syllable names, base facts drawn at random, derived two-hop facts,
 * the task splits and the vocabulary. Deterministic per (seed, size): every part draws from its own
 * named random stream.
 */
import { fixedWords } from './lexicon.js';
import { NameMaker } from './names.js';
import { BASE_RELATIONS, RELATIONS, type EntityType, type RelationId } from './relations.js';
import { WorldRng } from './rng.js';
import { generateTasks } from './tasks.js';
import { buildVocab } from './tokenizer.js';
import { WORLD_SIZES, type WorldTaskName, type Entity, type Fact, type World, type WorldSize } from './types.js';

/** Bump when generation changes what a seed gives. */
export const WORLD_VERSION = 4;

/** Counts per size; languages are one per country. */
export interface SizeSpec {
  countries: number;
  citiesPerCountry: number;
  people: number;
  companies: number;
  instruments: number;
  sports: number;
  /** training examples per task, at most */
  taskTrain: Record<WorldTaskName, number>;
  /** test examples per task, at most */
  taskTest: number;
}

export const SIZES: Record<WorldSize, SizeSpec> = {
  tiny: {
    countries: 3,
    citiesPerCountry: 2,
    people: 10,
    companies: 3,
    instruments: 3,
    sports: 3,
    taskTrain: { reasoning: 40, nli: 40, 'qa-open': 40, 'qa-yesno': 40, sentiment: 40, ner: 40, dialogue: 40 },
    taskTest: 20,
  },
  default: {
    countries: 10,
    citiesPerCountry: 3,
    people: 80,
    companies: 12,
    instruments: 8,
    sports: 8,
    taskTrain: { reasoning: 9800, nli: 4000, 'qa-open': 400, 'qa-yesno': 8000, sentiment: 400, ner: 1000, dialogue: 4000 },
    taskTest: 100,
  },
};

export interface GenerateOptions {
  /** a non-negative integer (default 0) */
  seed?: number;
  /** default `default` */
  size?: WorldSize;
}

/** Entities, base facts and derived facts (what tasks and text are built from). */
export interface WorldCore {
  seed: number;
  size: WorldSize;
  spec: SizeSpec;
  entities: Entity[];
  facts: Fact[];
  derived: Fact[];
}

function makeCore(seed: number, size: WorldSize): WorldCore {
  const spec = SIZES[size];
  const names = new NameMaker(WorldRng.stream(seed, 'names'), fixedWords());
  const rng = WorldRng.stream(seed, 'facts');
  const entities: Entity[] = [];
  const add = (type: EntityType, n: number): string[] => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const name = names.name(type);
      entities.push({ name, type });
      out.push(name);
    }
    return out;
  };
  const countries = add('country', spec.countries);
  const languages = countries.map((c) => {
    const name = names.languageOf(c);
    entities.push({ name, type: 'language' });
    return name;
  });
  const citiesOf = countries.map(() => add('city', spec.citiesPerCountry));
  const cities = citiesOf.flat();
  const people = add('person', spec.people);
  const companies = add('company', spec.companies);
  const instruments = add('instrument', spec.instruments);
  const sports = add('sport', spec.sports);

  const facts: Fact[] = [];
  const fact = (subject: string, rel: RelationId, object: string) => facts.push({ subject, relation: rel, object });
  // person facts: independent uniform draws
  const personRels: [RelationId, readonly string[]][] = [
    ['born_in', cities],
    ['lives_in', cities],
    ['citizen_of', countries],
    ['works_for', companies],
    ['speaks', languages],
    ['plays', instruments],
    ['practices', sports],
  ];
  for (const [r, pool] of personRels) for (const p of people) fact(p, r, rng.pick(pool));
  countries.forEach((c, i) => citiesOf[i]!.forEach((city) => fact(city, 'located_in', c)));
  countries.forEach((c, i) => fact(c, 'capital_of', rng.pick(citiesOf[i]!)));
  countries.forEach((c, i) => fact(c, 'language_of', languages[i]!));
  // companies sit in distinct cities where possible, so employer_city edits can move the answer
  const hq = rng.shuffle(cities);
  companies.forEach((c, i) => fact(c, 'based_in', hq[i % hq.length]!));
  companies.forEach((c) => fact(c, 'founded_in', String(1900 + rng.int(100))));
  const order = new Map<string, number>(BASE_RELATIONS.map((r, i) => [r, i]));
  facts.sort((a, b) => order.get(a.relation)! - order.get(b.relation)!); // stable: subject order kept

  const index = new Map(facts.map((f) => [`${f.subject}/${f.relation}`, f.object]));
  const derived: Fact[] = [];
  for (const r of RELATIONS) {
    if (r.kind !== 'derived') continue;
    const [first, second] = r.via!;
    for (const p of people) {
      const mid = index.get(`${p}/${first}`);
      const object = mid === undefined ? undefined : index.get(`${mid}/${second}`);
      if (object !== undefined) derived.push({ subject: p, relation: r.id, object });
    }
  }
  return { seed, size, spec, entities, facts, derived };
}

/**
 * Generate a world. The same seed and size give the same world, byte for byte.
 * @example const w = generateWorld({ seed: 0, size: 'tiny' }); w.facts[0] // { subject: 'kato', relation: 'born_in', object: 'tamor' }
 */
export function generateWorld(opts: GenerateOptions = {}): World {
  const seed = opts.seed ?? 0;
  const size = opts.size ?? 'default';
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`world seed must be an integer in [0, 2^32), got ${seed}`);
  }
  if (!WORLD_SIZES.includes(size)) throw new Error(`unknown world size "${String(size)}" (sizes: ${WORLD_SIZES.join(', ')})`);
  const core = makeCore(seed, size);
  const tasks = generateTasks(core);
  const world: World = {
    format: 'lmedit-world',
    version: WORLD_VERSION,
    seed,
    size,
    entities: core.entities,
    facts: core.facts,
    derived: core.derived,
    tasks,
    vocab: [],
  };
  world.vocab = buildVocab(world);
  return world;
}
