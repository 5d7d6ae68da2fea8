/**
 * Relations of the world and their surface templates (docs/world.md, "Relations and templates").
 * A template holds `{s}` (the subject) and ends with `{o}` (the object), optionally followed by ` .`;
 * its prompt is the text before ` {o}`, so every prompt ends right before the answer. `train`
 * templates make the training text; `heldOut` ones (paraphrases built from words the training text
 * uses) never appear in it and measure generalization.
 */

/** Kinds of entity. Years (objects of `founded_in`) are values, not entities. */
export const ENTITY_TYPES = ['person', 'city', 'country', 'company', 'language', 'instrument', 'sport'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];
/** What a relation's object is. */
export type ValueType = EntityType | 'year';

export const BASE_RELATIONS = [
  'born_in',
  'lives_in',
  'citizen_of',
  'works_for',
  'speaks',
  'plays',
  'practices',
  'located_in',
  'capital_of',
  'language_of',
  'based_in',
  'founded_in',
] as const;
export const DERIVED_RELATIONS = ['birth_country', 'home_country', 'employer_city'] as const;
export type BaseRelationId = (typeof BASE_RELATIONS)[number];
export type DerivedRelationId = (typeof DERIVED_RELATIONS)[number];
export type RelationId = BaseRelationId | DerivedRelationId;
export const RELATION_IDS: readonly RelationId[] = [...BASE_RELATIONS, ...DERIVED_RELATIONS];

/** One surface form of a relation. */
export interface Template {
  /** `<relation>.t<k>` (train) or `<relation>.h<k>` (held out) */
  id: string;
  /** e.g. `{s} was born in {o} .` or `where was {s} born ? {o}` */
  text: string;
  /** a statement (`.` after the object) or a question (the object answers it) */
  form: 'statement' | 'question';
}

export interface Relation {
  id: RelationId;
  subject: EntityType;
  object: ValueType;
  /** `derived`: the composition `via[0]` then `via[1]` (e.g. born_in then located_in) */
  kind: 'base' | 'derived';
  via?: readonly [BaseRelationId, BaseRelationId];
  /** train templates; the first statement is the canonical prompt of edit requests */
  train: readonly Template[];
  heldOut: readonly Template[];
}

function templates(rel: string, prefix: 't' | 'h', texts: readonly string[]): Template[] {
  return texts.map((text, k) => ({
    id: `${rel}.${prefix}${k}`,
    text,
    form: text.endsWith('{o} .') ? 'statement' : 'question',
  }));
}

function rel(
  id: RelationId,
  subject: EntityType,
  object: ValueType,
  train: readonly string[],
  heldOut: readonly string[],
  via?: readonly [BaseRelationId, BaseRelationId],
): Relation {
  return {
    id,
    subject,
    object,
    kind: via ? 'derived' : 'base',
    ...(via ? { via } : {}),
    train: templates(id, 't', train),
    heldOut: templates(id, 'h', heldOut),
  };
}

/**
 * Every relation, base first, in a fixed order. Each has the same five kinds of template (derived
 * relations lack B): A its canonical statement, B another statement, C "the <type> where <subject>
 * <verb> is …", D "which <type> <verb> <subject> …?", E its own question. Each relation holds out its
 * C or its D and trains the other, chosen so that every held-out template has trained siblings of
 * the same pattern with another verb (born_in holds out "the city where {s} was born is" and trains
 * lives_in's and based_in's "the city where {s} … is"): generalizing to it is composition.
 */
export const RELATIONS: readonly Relation[] = [
  rel(
    'born_in',
    'person',
    'city',
    ['{s} was born in {o} .', 'the birthplace of {s} is {o} .', 'which city was {s} born in ? {o}', 'where was {s} born ? {o}'],
    ['the city where {s} was born is {o} .'],
  ),
  rel(
    'lives_in',
    'person',
    'city',
    ['{s} lives in {o} .', 'the home of {s} is in {o} .', 'the city where {s} lives is {o} .', 'where does {s} live ? {o}'],
    ['which city does {s} live in ? {o}'],
  ),
  rel(
    'citizen_of',
    'person',
    'country',
    [
      '{s} is a citizen of {o} .',
      '{s} holds a passport from {o} .',
      'the country where {s} is a citizen is {o} .',
      'of which country is {s} a citizen ? {o}',
    ],
    ['which country is {s} a citizen of ? {o}'],
  ),
  rel(
    'works_for',
    'person',
    'company',
    [
      '{s} works for {o} .',
      'the employer of {s} is {o} .',
      'which company does {s} work for ? {o}',
      'who does {s} work for ? {o}',
    ],
    ['the company {s} works for is {o} .'],
  ),
  rel(
    'speaks',
    'person',
    'language',
    ['{s} speaks {o} .', '{s} talks in {o} .', 'the language {s} speaks is {o} .', 'what language does {s} speak ? {o}'],
    ['which language does {s} speak ? {o}'],
  ),
  rel(
    'plays',
    'person',
    'instrument',
    [
      '{s} plays the {o} .',
      'the instrument of {s} is the {o} .',
      'which instrument does {s} play ? {o}',
      'what instrument does {s} play ? {o}',
    ],
    ['the instrument {s} plays is the {o} .'],
  ),
  rel(
    'practices',
    'person',
    'sport',
    [
      '{s} practices {o} .',
      'the sport of {s} is {o} .',
      'the sport {s} practices is {o} .',
      'what sport does {s} practice ? {o}',
    ],
    ['which sport does {s} practice ? {o}'],
  ),
  rel(
    'located_in',
    'city',
    'country',
    [
      '{s} is located in {o} .',
      '{s} is a city in {o} .',
      'which country is {s} located in ? {o}',
      'in which country is {s} ? {o}',
    ],
    ['the country where {s} is located is {o} .'],
  ),
  rel(
    'capital_of',
    'country',
    'city',
    [
      'the capital of {s} is {o} .',
      '{s} has its capital in {o} .',
      'which city is the capital of {s} ? {o}',
      'what is the capital of {s} ? {o}',
    ],
    ['the capital city of {s} is {o} .'],
  ),
  rel(
    'language_of',
    'country',
    'language',
    [
      'the language of {s} is {o} .',
      'people in {s} speak {o} .',
      'people who live in {s} speak {o} .',
      'what language is spoken in {s} ? {o}',
    ],
    ['which language is spoken in {s} ? {o}'],
  ),
  rel(
    'based_in',
    'company',
    'city',
    [
      '{s} is based in {o} .',
      'the headquarters of {s} are in {o} .',
      'the city where {s} is based is {o} .',
      'where is {s} based ? {o}',
    ],
    ['which city is {s} based in ? {o}'],
  ),
  rel(
    'founded_in',
    'company',
    'year',
    [
      '{s} was founded in {o} .',
      '{s} started in the year {o} .',
      'the year when {s} was founded is {o} .',
      'when was {s} founded ? {o}',
    ],
    ['in which year was {s} founded ? {o}'],
  ),
  rel(
    'birth_country',
    'person',
    'country',
    ['the birth country of {s} is {o} .', 'the country where {s} was born is {o} .', 'in which country was {s} born ? {o}'],
    ['which country was {s} born in ? {o}'],
    ['born_in', 'located_in'],
  ),
  rel(
    'home_country',
    'person',
    'country',
    ['the home country of {s} is {o} .', 'which country does {s} live in ? {o}', 'in which country does {s} live ? {o}'],
    ['the country where {s} lives is {o} .'],
    ['lives_in', 'located_in'],
  ),
  rel(
    'employer_city',
    'person',
    'city',
    [
      'the company of {s} is based in {o} .',
      'in which city is the employer of {s} based ? {o}',
      'where is the employer of {s} based ? {o}',
    ],
    ['the city where the employer of {s} is based is {o} .'],
    ['works_for', 'based_in'],
  ),
];

const BY_ID = new Map(RELATIONS.map((r) => [r.id, r]));

/** A relation by id, with the list of ids in the error. */
export function relation(id: string): Relation {
  const r = BY_ID.get(id as RelationId);
  if (!r) throw new Error(`unknown relation "${id}" (relations: ${RELATION_IDS.join(', ')})`);
  return r;
}

/** Every template of every relation. */
export function allTemplates(): { relation: Relation; template: Template; split: 'train' | 'held-out' }[] {
  return RELATIONS.flatMap((r) => [
    ...r.train.map((template) => ({ relation: r, template, split: 'train' as const })),
    ...r.heldOut.map((template) => ({ relation: r, template, split: 'held-out' as const })),
  ]);
}

/** The prompt of a template for a subject: the text before ` {o}`. */
export function templatePrompt(t: Template, subject: string): string {
  const i = t.text.indexOf(' {o}');
  if (i < 0) throw new Error(`template ${t.id} has no " {o}"`);
  return t.text.slice(0, i).replace('{s}', subject);
}

/** The full sentence of a template for a subject and object. */
export function render(t: Template, subject: string, object: string): string {
  return t.text.replace('{s}', subject).replace('{o}', object);
}

/** The canonical (edit) template of a relation: its first train statement. */
export function canonicalTemplate(r: Relation): Template {
  return r.train.find((t) => t.form === 'statement') ?? r.train[0]!;
}

/** The first train question of a relation. */
export function questionTemplate(r: Relation): Template {
  return r.train.find((t) => t.form === 'question') ?? r.train[0]!;
}
