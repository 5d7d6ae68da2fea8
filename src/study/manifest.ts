/**
 * manifest.json of a run: the study as resolved, the lmedit version and commit, the model's
 * config hash and file checksums, the machine and the backend. A resumed run must be the same
 * study on the same model: anything else would mix two experiments in one results file.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getBackend } from '../tensor/index.js';
import type { StudySpec } from './types.js';

export interface Manifest {
  study: StudySpec;
  lmedit: { version: string; commit: string | null };
  model: { dir: string; config_sha256: string | null; files: Record<string, string> };
  machine: { platform: string; release: string; cpus: number; cpu: string; memory_gib: number; node: string };
  backend: { name: string; threads: string | null };
  created: string;
}

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** Checksums of the model directory's files (weights, config, tokenizer). */
export async function modelFingerprint(dir: string): Promise<Manifest['model']> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isFile()) files[name] = await sha256File(p);
  }
  return { dir, config_sha256: files['config.json'] ?? null, files };
}

export async function makeManifest(study: StudySpec, modelDir: string): Promise<Manifest> {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const cpu = cpus();
  return {
    study,
    lmedit: { version: pkg.version, commit: gitCommit() },
    model: await modelFingerprint(modelDir),
    machine: {
      platform: platform(),
      release: release(),
      cpus: cpu.length,
      cpu: cpu[0]?.model ?? 'unknown',
      memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
    },
    backend: { name: getBackend().name, threads: process.env['LMEDIT_THREADS'] ?? null },
    created: new Date().toISOString(),
  };
}

/**
 * Write the manifest of a new run, or check that an existing run is the same study on the same
 * model (then it is resumed and its manifest kept).
 */
export function writeOrCheckManifest(runDir: string, fresh: Manifest): { resumed: boolean } {
  const path = join(runDir, 'manifest.json');
  if (!existsSync(path)) {
    mkdirSync(runDir, { recursive: true });
    writeFileSync(`${path}.tmp`, JSON.stringify(fresh, null, 2) + '\n');
    renameSync(`${path}.tmp`, path);
    return { resumed: false };
  }
  const old = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  if (JSON.stringify(old.study) !== JSON.stringify(fresh.study))
    throw new Error(
      `${runDir} holds a different study ("${old.study.name}"); resume it with its own study file or use a new --out`,
    );
  const changed = Object.keys({ ...old.model.files, ...fresh.model.files }).filter(
    (f) => old.model.files[f] !== fresh.model.files[f],
  );
  if (changed.length > 0)
    throw new Error(`${runDir} was run on other model files (${changed.join(', ')} differ); use a new --out`);
  return { resumed: true };
}

export function readManifest(runDir: string): Manifest {
  const path = join(runDir, 'manifest.json');
  if (!existsSync(path)) throw new Error(`${runDir} is not a study run (no manifest.json)`);
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}
