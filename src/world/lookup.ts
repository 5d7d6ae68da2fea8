/** Lookups over a world: the object of a fact, entities of a type, facts of a relation. */
import { relation, type EntityType, type RelationId } from './relations.js';
import type { Fact, World } from './types.js';

const indexCache = new WeakMap<World, Map<string, string>>();

/** The object of (subject, relation), base or derived; undefined when the world has no such fact. */
export function objectOf(world: World, subject: string, rel: RelationId): string | undefined {
  let index = indexCache.get(world);
  if (!index) {
    index = new Map([...world.facts, ...world.derived].map((f) => [`${f.subject}/${f.relation}`, f.object]));
    indexCache.set(world, index);
  }
  return index.get(`${subject}/${rel}`);
}

/** Entity names of a type, in generation order. */
export function entitiesOf(world: Pick<World, 'entities'>, type: EntityType): string[] {
  return world.entities.filter((e) => e.type === type).map((e) => e.name);
}

/** The facts of a relation (base or derived). */
export function factsOf(world: World, rel: RelationId): Fact[] {
  return (relation(rel).kind === 'base' ? world.facts : world.derived).filter((f) => f.relation === rel);
}

/** What the derived relation `rel` says about `subject` if its first hop pointed at `mid` instead. */
export function derivedVia(world: World, rel: RelationId, mid: string): string | undefined {
  const r = relation(rel);
  if (r.kind !== 'derived') throw new Error(`relation ${rel} is not derived`);
  return objectOf(world, mid, r.via![1]);
}
