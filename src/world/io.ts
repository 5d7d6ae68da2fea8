/**
 * The world on disk: world.json is a manifest (seed, size, entities, facts, templates, split sizes,
 * content hash). Reading regenerates the world from its seed and size and checks the hash, so a
 * manifest written by another generator version is refused rather than silently misread.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateWorld, WORLD_VERSION } from './generate.js';
import { RELATIONS } from './relations.js';
import { trainingDocuments } from './text.js';
import { WORLD_SIZES, WORLD_TASK_NAMES, type World, type WorldSize } from './types.js';

/** sha256 (hex) of the world's canonical JSON: entities, facts, task examples, vocabulary, templates. */
export function worldHash(world: World): string {
  const templates = RELATIONS.map((r) => [r.id, r.train.map((t) => t.text), r.heldOut.map((t) => t.text)]);
  return createHash('sha256')
    .update(JSON.stringify({ ...world, templates }))
    .digest('hex');
}

/** The manifest written as world.json. */
export interface WorldManifest {
  format: 'lmedit-world';
  version: number;
  seed: number;
  size: WorldSize;
  hash: string;
  counts: {
    entities: number;
    facts: number;
    derived: number;
    vocab: number;
    trainingDocuments: number;
    tasks: Record<string, { train: number; test: number }>;
  };
  entities: World['entities'];
  /** [subject, relation, object] */
  facts: [string, string, string][];
  derived: [string, string, string][];
  relations: { id: string; subject: string; object: string; kind: string; via?: readonly string[] }[];
  /** template id → text */
  templates: { train: Record<string, string>; heldOut: Record<string, string> };
}

export function worldManifest(world: World): WorldManifest {
  const tasks: Record<string, { train: number; test: number }> = {};
  for (const n of WORLD_TASK_NAMES) tasks[n] = { train: world.tasks[n].train.length, test: world.tasks[n].test.length };
  const train: Record<string, string> = {};
  const heldOut: Record<string, string> = {};
  for (const r of RELATIONS) {
    for (const t of r.train) train[t.id] = t.text;
    for (const t of r.heldOut) heldOut[t.id] = t.text;
  }
  return {
    format: 'lmedit-world',
    version: world.version,
    seed: world.seed,
    size: world.size,
    hash: worldHash(world),
    counts: {
      entities: world.entities.length,
      facts: world.facts.length,
      derived: world.derived.length,
      vocab: world.vocab.length,
      trainingDocuments: trainingDocuments(world).length,
      tasks,
    },
    entities: world.entities,
    facts: world.facts.map((f) => [f.subject, f.relation, f.object]),
    derived: world.derived.map((f) => [f.subject, f.relation, f.object]),
    relations: RELATIONS.map((r) => ({
      id: r.id,
      subject: r.subject,
      object: r.object,
      kind: r.kind,
      ...(r.via ? { via: r.via } : {}),
    })),
    templates: { train, heldOut },
  };
}

/** Write `dir/world.json` (the folder is created if missing). */
export async function writeWorld(dir: string, world: World): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'world.json');
  // one fact per line: [s, r, o] arrays kept on a line
  const text = JSON.stringify(worldManifest(world), null, 2).replace(
    /\[\n\s+("(?:[^"\\]|\\.)*"),\n\s+("(?:[^"\\]|\\.)*"),\n\s+("(?:[^"\\]|\\.)*")\n\s+\]/g,
    '[$1, $2, $3]',
  );
  await writeFile(path, text + '\n');
  return path;
}

/** Read `dir/world.json` (or a path to it): regenerate the world and check the manifest's hash. */
export async function readWorld(dirOrFile: string): Promise<World> {
  const path = dirOrFile.endsWith('.json') ? dirOrFile : join(dirOrFile, 'world.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read the world manifest: ${(e as Error).message}`);
  }
  const m = (raw ?? {}) as Partial<WorldManifest>;
  if (m.format !== 'lmedit-world') throw new Error(`${path}: not a world manifest (format is ${JSON.stringify(m.format)})`);
  if (typeof m.seed !== 'number' || !WORLD_SIZES.includes(m.size as WorldSize)) {
    throw new Error(`${path}: manifest needs a numeric seed and a size (${WORLD_SIZES.join(', ')})`);
  }
  if (m.version !== WORLD_VERSION) {
    throw new Error(`${path}: world generator version ${String(m.version)}, this lmedit generates version ${WORLD_VERSION}`);
  }
  const world = generateWorld({ seed: m.seed, size: m.size as WorldSize });
  const hash = worldHash(world);
  if (m.hash !== hash) {
    throw new Error(
      `${path}: content hash ${String(m.hash)} differs from the regenerated world's ${hash} (seed ${m.seed}, ${m.size})`,
    );
  }
  return world;
}
