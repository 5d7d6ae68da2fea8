/**
 * Which model a job runs on, and the check that a worker has the same one: every file the
 * coordinator hashed must hash the same here. A mismatch is a job failure that names the file,
 * never a silently different result.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sha256File, type Manifest } from '../manifest.js';
import type { ModelRef } from './protocol.js';

/** The reference of a run's model: the study's `model.path` and the manifest's checksums (hashed once). */
export function modelRef(path: string, model: Manifest['model']): ModelRef {
  return { path, dir: model.dir, config_sha256: model.config_sha256, files: model.files };
}

/** sha256 of files already hashed in this process, by path, size and mtime. */
const hashed = new Map<string, string>();

async function sha256(path: string): Promise<string> {
  const st = statSync(path);
  const key = `${path}\0${st.size}\0${st.mtimeMs}`;
  const known = hashed.get(key);
  if (known) return known;
  const hex = await sha256File(path);
  hashed.set(key, hex);
  return hex;
}

/**
 * The local directory of a job's model: `<modelsDir>/<name>` when --models-dir has it, else the
 * coordinator's path when it exists here, else `resolve(ref.path)` (a built-in model or a hub
 * id, fetched or trained as on the command line). Then every file is checked against the
 * coordinator's checksums.
 */
export async function locateModel(
  ref: ModelRef,
  modelsDir: string | undefined,
  resolve: (path: string) => Promise<string>,
): Promise<string> {
  const inModelsDir = modelsDir ? join(modelsDir, basename(ref.dir)) : null;
  const dir = inModelsDir && existsSync(inModelsDir) ? inModelsDir : existsSync(ref.dir) ? ref.dir : await resolve(ref.path);
  await verifyModel(dir, ref);
  return dir;
}

export async function verifyModel(dir: string, ref: ModelRef): Promise<void> {
  for (const [name, want] of Object.entries(ref.files)) {
    const p = join(dir, name);
    if (!existsSync(p))
      throw new Error(`model ${dir}: ${name} is missing (the coordinator's model has it); this worker has another model`);
    const got = await sha256(p);
    if (got !== want)
      throw new Error(
        `model ${dir}: ${name} differs from the coordinator's (sha256 ${got.slice(0, 12)}…, expected ${want.slice(0, 12)}…); this worker has another model`,
      );
  }
}
