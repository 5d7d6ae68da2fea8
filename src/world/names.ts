/**
 * Entity names made from syllables, one lowercase word each. Each type has its own shape
 * (countries end in -ria/-land/-stan, languages are their country's stem + -nese/-sh/-nic, companies
 * end in -corp/-tek/-co, instruments in -phone/-harp/-lin, sports in -ball/-polo), which keeps the
 * world readable; a word-level tokenizer sees every name as one opaque token.
 */
import type { EntityType } from './relations.js';
import type { WorldRng } from './rng.js';

const CONSONANTS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z'] as const;
const VOWELS = ['a', 'e', 'i', 'o', 'u'] as const;
const CITY_ENDS = ['n', 'r', 's', 'l', 'm'] as const;
const SUFFIX: Partial<Record<EntityType, readonly string[]>> = {
  country: ['ria', 'land', 'stan'],
  language: ['nese', 'sh', 'nic'],
  company: ['corp', 'tek', 'co'],
  instrument: ['phone', 'harp', 'lin'],
  sport: ['ball', 'polo'],
};

function syllable(rng: WorldRng): string {
  return rng.pick(CONSONANTS) + rng.pick(VOWELS);
}

/** A stem of two syllables (three for a quarter of people, so that names vary in length). */
function stem(rng: WorldRng, type: EntityType): string {
  const n = type === 'person' && rng.next() < 0.25 ? 3 : 2;
  let s = '';
  for (let i = 0; i < n; i++) s += syllable(rng);
  return s;
}

/**
 * Unique names: never equal to or inside a fixed word (so a subject found in a prompt is the
 * subject) and never inside another name.
 */
export class NameMaker {
  private readonly used: string[] = [];
  private readonly usedSet = new Set<string>();

  constructor(
    private readonly rng: WorldRng,
    private readonly reserved: ReadonlySet<string>,
  ) {}

  private ok(name: string): boolean {
    if (this.usedSet.has(name) || this.reserved.has(name)) return false;
    for (const w of this.reserved) if (w.includes(name) || (w.length >= 4 && name.includes(w))) return false;
    for (const u of this.used) if (u.includes(name) || name.includes(u)) return false;
    return true;
  }

  private take(make: () => string, what: string): string {
    for (let tries = 0; tries < 10000; tries++) {
      const name = make();
      if (this.ok(name)) {
        this.used.push(name);
        this.usedSet.add(name);
        return name;
      }
    }
    throw new Error(`could not make a unique ${what} name`);
  }

  /** A name of an entity type (languages: use {@link languageOf}). */
  name(type: EntityType): string {
    return this.take(() => {
      const s = stem(this.rng, type);
      if (type === 'city') return s + this.rng.pick(CITY_ENDS);
      const suffix = SUFFIX[type];
      return suffix ? s + this.rng.pick(suffix) : s;
    }, type);
  }

  /** The language of a country: the country's stem with a language ending. */
  languageOf(country: string): string {
    const base = country.replace(/(ria|land|stan)$/, '');
    const endings = SUFFIX.language!;
    return this.take(() => {
      const name = base + this.rng.pick(endings);
      return this.ok(name) ? name : stem(this.rng, 'language') + this.rng.pick(endings);
    }, 'language');
  }
}
