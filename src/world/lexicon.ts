/**
 * The fixed words of the general-skill tasks (docs/world.md, "Tasks"): arithmetic phrasings and
 * items, review frames and adjectives, NER sentence frames, dialogue questions and replies. Entity
 * names are generated and must not collide with any of these words.
 */
import type { EntityType } from './relations.js';
import { RELATIONS } from './relations.js';

/** Comparison word problems: `{n}` a person, `{a}`/`{b}` counts of items `{x}`/`{y}`; the answer is the item there are more of. */
export const ARITH_FRAMES: readonly { text: string }[] = [
  { text: 'problem : {n} has {a} {x} and {b} {y} . does {n} have more {x} or {y} ? answer :' },
  { text: 'problem : {n} bought {a} {x} and {b} {y} . did {n} buy more {x} or {y} ? answer :' },
];
export const ARITH_ITEMS = ['apples', 'coins', 'books', 'cards', 'stamps', 'shells', 'pens', 'cups'] as const;

/** Review frames: `{t}`/`{u}` things, `{a}`/`{b}` adjectives, `{c}` a city. */
export const REVIEW_FRAMES: readonly { id: string; text: string; rule: 'first' | 'negated' | 'both' | 'second' }[] = [
  { id: 'plain', text: 'the {t} was {a} .', rule: 'first' },
  { id: 'city', text: 'the {t} in {c} was {a} .', rule: 'first' },
  { id: 'thought', text: 'i thought the {t} was {a} .', rule: 'first' },
  { id: 'not', text: 'the {t} was not {a} .', rule: 'negated' },
  { id: 'and', text: 'the {t} was {a} and the {u} was {b} .', rule: 'both' },
  { id: 'but', text: 'the {t} was {a} but the {u} was {b} .', rule: 'second' },
];
export const REVIEW_THINGS = ['food', 'movie', 'concert', 'hotel', 'service', 'book', 'game', 'show', 'trip', 'room'] as const;
export const POSITIVE_WORDS = ['good', 'great', 'wonderful', 'excellent', 'lovely', 'amazing', 'fantastic', 'pleasant'] as const;
export const NEGATIVE_WORDS = ['bad', 'awful', 'terrible', 'boring', 'poor', 'horrible', 'dull', 'dreadful'] as const;

/** NER sentence frames: each slot type occurs once, so every word of a sentence has one type. */
export const NER_FRAMES: readonly { id: string; text: string; slots: readonly EntityType[] }[] = [
  { id: 'moved', text: '{person} moved from {city} to {country}', slots: ['person', 'city', 'country'] },
  { id: 'bought', text: '{person} bought a {instrument} from {company}', slots: ['person', 'instrument', 'company'] },
  { id: 'office', text: '{company} opened an office in {country}', slots: ['company', 'country'] },
  { id: 'watched', text: '{person} watched {sport} in {city}', slots: ['person', 'sport', 'city'] },
  { id: 'learned', text: '{person} learned {language} in {country}', slots: ['person', 'language', 'country'] },
  { id: 'met', text: '{person} met a friend from {company} in {city}', slots: ['person', 'company', 'city'] },
  { id: 'sang', text: '{person} sang in {language} with a {instrument}', slots: ['person', 'language', 'instrument'] },
];

/** Dialogue topics: a question and the reply frame (`{e}` an entity of `type`, or a number for age). */
export const DIALOGUE_TOPICS: readonly { id: string; question: string; reply: string; type: EntityType | 'age' }[] = [
  { id: 'born', question: 'where were you born ?', reply: 'i was born in {e} .', type: 'city' },
  { id: 'live', question: 'where do you live ?', reply: 'i live in {e} .', type: 'city' },
  { id: 'work', question: 'who do you work for ?', reply: 'i work for {e} .', type: 'company' },
  { id: 'speak', question: 'what language do you speak ?', reply: 'i speak {e} .', type: 'language' },
  { id: 'play', question: 'what instrument do you play ?', reply: 'i play the {e} .', type: 'instrument' },
  { id: 'sport', question: 'which sport do you practice ?', reply: 'i practice {e} .', type: 'sport' },
  { id: 'age', question: 'how old are you ?', reply: 'i am {e} years old .', type: 'age' },
];

/** The fixed task phrases not listed above (task prompt scaffolding). */
export const SCAFFOLD =
  'premise : hypothesis : answer : question : passage : is it true that ? review : sentiment : positive negative ' +
  'sentence : . what kind of name is person city country company language instrument sport ? ' +
  'dialogue : options : 1 2 3 yes no count more';

/** Every fixed word of templates and tasks (placeholders removed). */
export function fixedWords(): Set<string> {
  const texts = [
    ...RELATIONS.flatMap((r) => [...r.train, ...r.heldOut].map((t) => t.text)),
    ...ARITH_FRAMES.map((f) => f.text),
    ...ARITH_ITEMS,
    ...REVIEW_FRAMES.map((f) => f.text),
    ...REVIEW_THINGS,
    ...POSITIVE_WORDS,
    ...NEGATIVE_WORDS,
    ...NER_FRAMES.map((f) => f.text),
    ...DIALOGUE_TOPICS.flatMap((t) => [t.question, t.reply]),
    SCAFFOLD,
  ];
  const words = new Set<string>();
  for (const t of texts) for (const w of t.split(/\s+/)) if (w !== '' && !/^\{\w+\}$/.test(w)) words.add(w);
  return words;
}
