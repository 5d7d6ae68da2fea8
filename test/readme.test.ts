/**
 * The README's examples run as written. Every line of its ```bash blocks runs in order with
 * bash, from a scratch checkout-like folder (package.json and bin/ linked, ../shared beside it),
 * so commands that build on earlier ones (a saved model, a trained MEND editor, a study run) see
 * their outputs. Left out, each with its reason: setup lines (`npm ci`, `npm test`, `npm link`),
 * commands that download a hub model, and the few that take minutes, which CI's other steps run
 * (.ci/run runs `npm run demo` as written).
 *
 * The built-in model must be cached in $LMEDIT_HOME (training it takes ~5 minutes): .ci/run runs
 * the demo first and sets LMEDIT_REQUIRE_DEFAULT_MODEL=1, which turns "not cached" into a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_MODELS } from '../src/cli/default-model.js';
import { cachedDefaultModel } from './world-edits.js';
import { resolveStudy } from '../src/study/presets.js';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const shared = process.env['LMEDIT_SHARED'] ?? resolve(repo, '..', 'shared');

/** Commands that take minutes; each must still match a README line (the list cannot rot). */
const LONG: readonly { prefix: string; reason: string }[] = [
  { prefix: 'npm run demo', reason: 'trains the model and runs the full demo; .ci/run runs it as written' },
  { prefix: 'npm run bench', reason: 'a benchmark (minutes); `npm run bench -- --help` lists them' },
  { prefix: 'npm run lmedit -- train --world --out', reason: 'the default recipe trains for ~5 minutes, as the demo step does' },
];
const SETUP = /^npm (ci|test|link)\b/;

interface Line {
  readonly text: string;
  readonly at: number;
}

/** The lines of the README's ```bash blocks: continuations joined, comment-only lines dropped. */
function bashLines(markdown: string): Line[] {
  const out: Line[] = [];
  const lines = markdown.split('\n');
  let inBash = false;
  let pending = '';
  let start = 0;
  lines.forEach((raw, i) => {
    const fence = /^\s*```(\w*)/.exec(raw);
    if (fence) {
      inBash = !inBash && fence[1] === 'bash';
      return;
    }
    if (!inBash) return;
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') start = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1).trim() + ' ';
      return;
    }
    out.push({ text: pending + line, at: start });
    pending = '';
  });
  return out;
}

/** Why a line is not run here, or null to run it. */
function leftOut(text: string): string | null {
  if (SETUP.test(text)) return 'setup (CI runs it)';
  const long = LONG.find((l) => text.startsWith(l.prefix));
  return long ? long.reason : null;
}

/** A `--model` that is neither built in nor a folder here (earlier lines may have saved one) is a hub id. */
function needsHub(text: string, workdir: string): boolean {
  const model = /--model\s+(\S+)/.exec(text)?.[1];
  if (!model || (BUILTIN_MODELS as readonly string[]).includes(model)) return false;
  return !existsSync(resolve(workdir, model));
}

const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const lines = bashLines(readme);

test('README: the bash blocks are found and every long-running exception still names a README line', () => {
  assert.ok(lines.length >= 30, `only ${lines.length} command lines found`);
  for (const l of LONG)
    assert.ok(
      lines.some((x) => x.text.startsWith(l.prefix)),
      `"${l.prefix}" no longer in the README`,
    );
  assert.ok(!/\bnpx lmedit\b/.test(readme), 'the README should run the local build (npm run lmedit --), not npx');
});

test('README: every example runs as written, in order', { timeout: 1_500_000 }, (t) => {
  if (!existsSync(shared)) {
    t.skip(`${shared} is absent: the README's examples read ../shared`);
    return;
  }
  if (!cachedDefaultModel(t)) return;
  const root = mkdtempSync(join(tmpdir(), 'lmedit-readme-'));
  const work = join(root, 'lmedit');
  try {
    mkdirSync(work);
    symlinkSync(shared, join(root, 'shared'));
    for (const f of ['package.json', 'bin', 'docs']) symlinkSync(join(repo, f), join(work, f));
    const ran: string[] = [];
    const skipped: string[] = [];
    for (const line of lines) {
      const why = leftOut(line.text) ?? (needsHub(line.text, work) ? 'downloads a model from the hub' : null);
      if (why) {
        skipped.push(`README:${line.at} ${line.text.slice(0, 70)}… (${why})`);
        continue;
      }
      const t0 = Date.now();
      const r = spawnSync('bash', ['-eo', 'pipefail', '-c', line.text], {
        cwd: work,
        encoding: 'utf8',
        timeout: 600_000,
        env: { ...process.env, npm_config_loglevel: 'error' },
      });
      const tail = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.slice(-3000);
      assert.equal(r.status, 0, `README line ${line.at} failed (exit ${r.status}): ${line.text}\n${tail}`);
      ran.push(`README:${line.at} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    t.diagnostic(`ran ${ran.length} README lines (${ran.join(', ')}); left out ${skipped.length}:\n  ${skipped.join('\n  ')}`);
    assert.ok(ran.length >= 25, `ran only ${ran.length} lines`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('docs/examples: every study file there is a valid study', () => {
  const dir = join(repo, 'docs', 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 1);
  for (const f of files) {
    const spec = resolveStudy(join(dir, f));
    assert.ok(spec.methods.length >= 1, f);
  }
});
