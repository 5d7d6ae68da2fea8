/**
 * Edit requests over the world, in the shape the editing code reads (src/edit/types.ts): the prompt
 * is a fact's canonical train template up to the object, `target_new` another entity of the object's
 * type, rephrases come from the held-out templates, locality probes are neighbours (same relation,
 * same true object, other subject: CounterFact's neighbourhood) and unrelated facts, and portability
 * asks the two-hop questions whose answer the edit changes.
 */
import type { EditRequest, PromptAnswer } from '../edit/types.js';
import { entitiesOf, objectOf } from './lookup.js';
import {
  RELATIONS,
  canonicalTemplate,
  relation,
  templatePrompt,
  type BaseRelationId,
  type Relation,
  type RelationId,
} from './relations.js';
import { WorldRng } from './rng.js';
import type { Fact, World } from './types.js';

/** Relations edited by default: each has a two-hop question whose answer moves with the edit. */
export const DEFAULT_EDIT_RELATIONS: readonly BaseRelationId[] = ['born_in', 'lives_in', 'works_for'];

export interface EditRequestOptions {
  /** base relations to edit (default {@link DEFAULT_EDIT_RELATIONS}) */
  relations?: readonly BaseRelationId[];
  /** locality probes per request (default 4: up to 2 neighbours, the rest unrelated facts) */
  locality?: number;
}

/** Two-hop relations that depend on a base relation, and through which hop. */
function dependents(rel: RelationId): { derived: Relation; hop: 0 | 1 }[] {
  return RELATIONS.filter((r) => r.kind === 'derived').flatMap((r) => {
    const out: { derived: Relation; hop: 0 | 1 }[] = [];
    if (r.via![0] === rel) out.push({ derived: r, hop: 0 });
    if (r.via![1] === rel) out.push({ derived: r, hop: 1 });
    return out;
  });
}

/** The derived relation's prompts (its train templates) with the answer after the edit `f` → `target`. */
function portability(world: World, f: Fact, target: string): { probes: PromptAnswer[]; changed: boolean } {
  const probes: PromptAnswer[] = [];
  let changed = false;
  for (const { derived, hop } of dependents(f.relation)) {
    // hop 0: the subject's own derived fact; hop 1: up to two subjects whose first hop lands on f.subject
    const subjects =
      hop === 0
        ? [f.subject]
        : world.facts
            .filter((g) => g.relation === derived.via![0] && g.object === f.subject)
            .map((g) => g.subject)
            .slice(0, 2);
    for (const s of subjects) {
      const before = objectOf(world, s, derived.id);
      const after = hop === 0 ? objectOf(world, target, derived.via![1]) : target;
      if (after === undefined) continue;
      if (after !== before) changed = true;
      for (const t of derived.train) probes.push({ prompt: templatePrompt(t, s), ground_truth: after });
    }
  }
  return { probes, changed };
}

/**
 * `n` edit requests on distinct facts (distinct subjects while they last), deterministic per seed;
 * `'all'`: one for every fact of the edited relations. The first k requests are the same for any n.
 * `target_new` is chosen so that every request with a two-hop dependent changes its answer.
 * @example editRequests(world, 10, 0)[0] // { prompt: 'kato was born in', subject: 'kato', target_new: 'belis', ground_truth: 'tamor', ... }
 */
export function editRequests(world: World, count: number | 'all', seed = 0, opts: EditRequestOptions = {}): EditRequest[] {
  const rels = opts.relations ?? DEFAULT_EDIT_RELATIONS;
  for (const r of rels) if (relation(r).kind !== 'base') throw new Error(`only base relations can be edited, got ${r}`);
  const nLocality = opts.locality ?? 4;
  const rng = WorldRng.stream(seed, `edits:${world.seed}`);
  const candidates = rng.shuffle(world.facts.filter((f) => rels.includes(f.relation as BaseRelationId)));
  const n = count === 'all' ? candidates.length : count;
  if (!Number.isInteger(n) || n < 0 || n > candidates.length) {
    throw new Error(`editRequests: n must be an integer in [0, ${candidates.length}] for relations ${rels.join(', ')}, got ${n}`);
  }
  // distinct subjects first, then the remaining facts
  const seen = new Set<string>();
  const first: Fact[] = [];
  const later: Fact[] = [];
  for (const f of candidates) {
    (seen.has(f.subject) ? later : first).push(f);
    seen.add(f.subject);
  }
  const chosen = [...first, ...later].slice(0, n);

  return chosen.map((f) => {
    const r = relation(f.relation);
    const pool =
      r.object === 'year'
        ? [...new Set(world.facts.filter((g) => g.relation === r.id).map((g) => g.object))]
        : entitiesOf(world, r.object);
    const options = rng.shuffle(pool.filter((o) => o !== f.object));
    if (options.length === 0) throw new Error(`no alternative object for ${f.subject} ${f.relation}`);
    const target = options.find((o) => portability(world, f, o).changed) ?? options[0]!;
    const port = portability(world, f, target).probes;
    const template = canonicalTemplate(r);

    const neighbours = rng
      .shuffle(world.facts.filter((g) => g.relation === f.relation && g.object === f.object && g.subject !== f.subject))
      .slice(0, Math.min(2, nLocality));
    const unrelated = rng
      .shuffle(world.facts.filter((g) => g.subject !== f.subject && g.relation !== f.relation))
      .slice(0, nLocality - neighbours.length);
    const locality = [...neighbours, ...unrelated].map((g) => ({
      prompt: templatePrompt(canonicalTemplate(relation(g.relation)), g.subject),
      ground_truth: g.object,
    }));
    return {
      prompt: templatePrompt(template, f.subject),
      subject: f.subject,
      target_new: target,
      ground_truth: f.object,
      rephrase_prompts: r.heldOut.map((t) => templatePrompt(t, f.subject)),
      locality,
      ...(port.length ? { portability: port } : {}),
      case_id: `${f.subject}/${f.relation}`,
    };
  });
}
