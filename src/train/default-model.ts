/**
 * The built-in default model: the world model, trained once on first use and cached under
 * $LMEDIT_HOME (default ~/.cache/lmedit). A cache whose files do not match their recorded
 * checksums (a killed copy, a disk error, a hand edit) is rebuilt, never used.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WORLD_VERSION } from '../world/index.js';
import { buildWorldModel, DEFAULT_WORLD_MODEL, type WorldModelSpec } from './world-model.js';
import type { TrainProgress } from './train.js';

export function lmeditHome(): string {
  return process.env['LMEDIT_HOME'] ?? join(homedir(), '.cache', 'lmedit');
}

/** Where the default model lives (its name changes with the world and the recipe). */
export function defaultModelPath(spec: WorldModelSpec = DEFAULT_WORLD_MODEL): string {
  const recipe = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 8);
  return join(lmeditHome(), 'models', `world-v${WORLD_VERSION}-${recipe}`);
}

const CHECKSUMS = 'checksums.json';

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function checksums(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) if (f !== CHECKSUMS && statSync(join(dir, f)).isFile()) out[f] = sha256(join(dir, f));
  return out;
}

/** Whether `dir` holds a complete default model whose files match their checksums. */
export function verifyModelDir(dir: string): boolean {
  const file = join(dir, CHECKSUMS);
  if (!existsSync(file)) return false;
  try {
    const want = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    const have = checksums(dir);
    return Object.keys(want).length > 0 && Object.entries(want).every(([f, h]) => have[f] === h);
  } catch {
    return false;
  }
}

/**
 * The default model's directory, training it first when the cache has none (or a corrupted
 * one). Training resumes from its checkpoints if a previous first run was killed.
 */
export async function ensureDefaultModel(
  opts: { log?: (m: string) => void; onProgress?: (p: TrainProgress) => void; spec?: WorldModelSpec } = {},
): Promise<string> {
  const spec = opts.spec ?? DEFAULT_WORLD_MODEL;
  const dir = defaultModelPath(spec);
  if (verifyModelDir(dir)) return dir;
  if (existsSync(dir)) {
    opts.log?.(`the cached default model in ${dir} is corrupted (checksums differ); rebuilding it`);
    rmSync(dir, { recursive: true, force: true });
  }
  opts.log?.(`training the default model (the world model) once; it is cached in ${dir}`);
  const report = await buildWorldModel(dir, spec, {
    checkpointDir: `${dir}.checkpoints`,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  writeFileSync(join(dir, CHECKSUMS), `${JSON.stringify(checksums(dir), null, 2)}\n`);
  rmSync(`${dir}.checkpoints`, { recursive: true, force: true });
  opts.log?.(`default model ready in ${report.seconds.toFixed(0)} s`);
  return dir;
}
