/**
 * The model organism from a user's side, with no ../shared: `lmedit demo --quick` on a fresh
 * $LMEDIT_HOME trains the quick world model once (saying so), runs the demo study end to end
 * (table on stdout, every world task and probe at every checkpoint, an HTML report), a second
 * command reuses the cache, and a corrupted cache is detected and rebuilt. Then ROME on that world
 * model: the edited fact and its paraphrases change, unrelated facts mostly stay, and the
 * portability share is reported.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResultLines } from '../src/study/results.js';
import { openModel } from '../src/models/index.js';
import { getMethod, resolveHParams } from '../src/edit/registry.js';
import type { LayerStatsProvider } from '../src/edit/stats/index.js';
import type { CausalLM } from '../src/models/index.js';
import type { Tokenizer } from '../src/tokenizer/index.js';
import { greedyRecall } from '../src/train/recall.js';
import { editRequests, readWorld, recallProbes, WORLD_TASK_NAMES, type World } from '../src/world/index.js';
import { worldStatsProvider } from '../src/cli/default-model.js';
import { assertShares, methodShares } from './world-edits.js';

const bin = resolve(fileURLToPath(new URL('../bin/lmedit.js', import.meta.url)));

/**
 * Shares the ROME test asserts on the quick world model, below what was measured (printed as a
 * diagnostic; world version 3: rewrite 1.00, paraphrase 1.00, unrelated facts kept 0.86,
 * portability 0.07; version 4: 1.00, 1.00, 0.81, 0.00). The quick model's weights, and so these
 * shares, move a little with the BLAS kernels it was trained with, hence the margin.
 */
const BARS = { rewrite: 0.9, paraphrase: 0.6, unrelatedKept: 0.7 };

describe('lmedit demo --quick and ROME on the world model (fresh $LMEDIT_HOME, no ../shared)', () => {
  const home = mkdtempSync(join(tmpdir(), 'lmedit-home-'));
  const env = { ...process.env, LMEDIT_HOME: home, LMEDIT_SHARED: join(home, 'no-shared') };
  const lmedit = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, timeout: 600_000 });
  const modelDir = (): string => {
    const dirs = readdirSync(join(home, 'models')).filter((d) => !d.endsWith('.checkpoints'));
    assert.equal(dirs.length, 1, `one cached model in ${home}/models: ${dirs.join(', ')}`);
    return join(home, 'models', dirs[0]!);
  };

  test('the first run trains and caches the quick model, then runs the demo to its report', () => {
    const out = join(home, 'demo');
    const r = lmedit('demo', '--quick', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /training the default model \(the world model\) once; it is cached in /);
    // the compact table: a header, the unedited row, then each variant at checkpoints 2 and 4
    const rows = r.stdout.split('\n').filter((l) => /^(unedited|ROME|MEMIT)/.test(l));
    assert.deepEqual(
      rows.map((l) =>
        l
          .split(/\s{2,}/)
          .slice(0, 2)
          .join(' @ '),
      ),
      ['unedited @ 0', ...['ROME', 'ROME+RECT-40%', 'MEMIT', 'MEMIT+RECT-40%'].flatMap((v) => [`${v} @ 2`, `${v} @ 4`])],
    );
    assert.match(r.stdout, /^variant\s+edits\s+facts\s+Rel\s+Gen\s+Loc\s+Port\s+reaso/m);
    assert.match(r.stdout, /^MEMIT\s+4\s+8\s/m, 'MEMIT edits 2 facts per operation');
    assert.match(r.stdout, /demo done in \d+ s: the report is .*report\.html/);
    const { lines, tail } = readResultLines(join(out, 'results.jsonl'));
    assert.equal(tail, null);
    for (const [cell, cp] of [
      ['baseline', 0],
      ...['ROME/b1', 'ROME+RECT-40%/b1', 'MEMIT/b2', 'MEMIT+RECT-40%/b2'].flatMap((c) => [
        [c, 2],
        [c, 4],
      ]),
    ] as const) {
      const at = lines.filter((l) => l.key.cell === cell && l.key.checkpoint === cp);
      for (const task of WORLD_TASK_NAMES)
        assert.ok(
          at.some((l) => l.key.kind === 'task' && l.key.name === task && l.key.mode === 'clean' && l.value !== null),
          `${cell} @ ${cp}: ${task}`,
        );
      for (const probe of ['unrelated_recall', 'perplexity']) {
        const l = at.find((x) => x.key.kind === 'metric' && x.key.name === probe);
        assert.ok(l && typeof l.value === 'number' && Number.isFinite(l.value), `${cell} @ ${cp}: ${probe}`);
      }
      if (cell !== 'baseline') assert.ok(at.some((l) => l.key.kind === 'metric' && l.key.name === 'rewrite_acc'));
    }
    const baselineRecall = lines.find((l) => l.key.cell === 'baseline' && l.key.name === 'unrelated_recall')!.value!;
    assert.ok(baselineRecall >= 0.9, `the unedited quick model recalls ${baselineRecall} of the unrelated facts`);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    for (const s of ['qa-open', 'Unrel. recall', 'PPL', 'MEMIT+RECT-40%']) assert.ok(html.includes(s), `report shows ${s}`);
  });

  test('a second command finds the cached model; a corrupted cache is detected and rebuilt', () => {
    const again = lmedit('generate', '--model', 'quick', '--prompt', 'where was', '--max-new-tokens', '2', '--json');
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /training/);
    const weights = join(modelDir(), 'model.safetensors');
    const bytes = readFileSync(weights);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(weights, bytes);
    const rebuilt = lmedit('generate', '--model', 'quick', '--prompt', 'where was', '--max-new-tokens', '2', '--json');
    assert.equal(rebuilt.status, 0, rebuilt.stderr);
    assert.match(rebuilt.stderr, /is corrupted \(checksums differ\); rebuilding it/);
    assert.notDeepEqual(readFileSync(weights), bytes, 'the rebuilt weights replace the corrupted ones');
    assert.ok(existsSync(join(modelDir(), 'checksums.json')));
  });

  test("edit --data world: a MEMIT batch of the world's own facts takes (the README's example, on the quick model)", () => {
    const r = lmedit('edit', '--model', 'quick', '--method', 'memit', '--data', 'world', '--limit', '4', '--batch-size', '4');
    assert.equal(r.status, 0, r.stderr);
    assert.equal((r.stdout.match(/\[edit 0, request \d\/4\]/g) ?? []).length, 4, r.stdout);
    const missed = (r.stdout.match(/the edit did not take/g) ?? []).length;
    assert.ok(missed <= 1, `${missed} of 4 requests did not take:\n${r.stdout}`);
  });

  test('ROME edits a world fact and its paraphrases; unrelated facts stay; portability is measured', async (t) => {
    await withQuickModel(async ({ model, tokenizer, world, stats }) => {
      const rome = await getMethod('rome');
      const { hp, source } = resolveHParams(rome, model, { world: true });
      assert.equal(source, `preset world-l${model.config.numLayers}`);
      const requests = editRequests(world, 10, 0);
      const enc = (s: string): number[] => tokenizer.encode(s, { addBos: false });
      const item = (prompt: string, answer: string) => ({ prompt: enc(prompt), answer: enc(` ${answer}`) });
      const recall = (items: { prompt: number[]; answer: number[] }[]): number =>
        items.length === 0 ? NaN : greedyRecall(model, items, { bosId: tokenizer.bosId }).accuracy;
      let rewrite = 0;
      let paraphrase = 0;
      let kept = 0;
      let portable = 0;
      let portableN = 0;
      for (const r of requests) {
        // unrelated: every fact of other subjects, in its first train template, that the model knows before the edit
        const others = recallProbes(world, 'train-templates', { kinds: 'base' })
          .filter((p) => p.subject !== r.subject)
          .filter((p, i, all) => all.findIndex((q) => q.subject === p.subject && q.relation === p.relation) === i)
          .map((p) => item(p.prompt, p.answer));
        const knownBefore = others.filter((it) => recall([it]) === 1);
        const result = rome.apply(model, [r], hp, { tokenizer, seed: 0, stats });
        try {
          rewrite += recall([item(r.prompt, r.target_new)]);
          paraphrase += recall((r.rephrase_prompts ?? []).map((p) => item(p, r.target_new)));
          kept += recall(knownBefore);
          for (const p of r.portability ?? []) {
            portable += recall([item(p.prompt, String(p.ground_truth))]);
            portableN++;
          }
        } finally {
          result.restore();
          result[Symbol.dispose]();
        }
      }
      const n = requests.length;
      const shares = {
        rewrite: rewrite / n,
        paraphrase: paraphrase / n,
        unrelatedKept: kept / n,
        portability: portable / portableN,
      };
      t.diagnostic(`ROME on the quick world model (${n} single edits): ${JSON.stringify(shares)}`);
      assert.ok(shares.rewrite >= BARS.rewrite, `edited fact: ${shares.rewrite}`);
      assert.ok(shares.paraphrase >= BARS.paraphrase, `paraphrases: ${shares.paraphrase}`);
      assert.ok(shares.unrelatedKept >= BARS.unrelatedKept, `unrelated facts kept: ${shares.unrelatedKept}`);
      assert.ok(Number.isFinite(shares.portability));
    });
  });

  test('every method edits the quick world model with its world preset (greedy continuation = target)', async (t) => {
    await withQuickModel(async ({ model, tokenizer, world, stats }) => {
      const shares = await methodShares(model, tokenizer, stats, editRequests(world, 6, 1));
      t.diagnostic(`share of single edits whose target is the greedy continuation: ${JSON.stringify(shares)}`);
      assertShares(shares);
    });
  });

  /** The cached quick model, its world and statistics over the world's text, for `fn`. */
  async function withQuickModel(
    fn: (m: { model: CausalLM; tokenizer: Tokenizer; world: World; stats: LayerStatsProvider }) => Promise<void>,
  ): Promise<void> {
    const dir = modelDir();
    const { model, tokenizer } = await openModel(dir);
    const world = await readWorld(dir);
    const prev = process.env['LMEDIT_HOME'];
    process.env['LMEDIT_HOME'] = home; // the world corpus file goes to this test's cache
    const stats = worldStatsProvider(tokenizer, dir, world, { cacheDir: false });
    try {
      await fn({ model, tokenizer, world, stats });
    } finally {
      if (prev === undefined) delete process.env['LMEDIT_HOME'];
      else process.env['LMEDIT_HOME'] = prev;
      stats.dispose();
      model.dispose();
    }
  }

  test('cleanup', () => rmSync(home, { recursive: true, force: true }));
});
