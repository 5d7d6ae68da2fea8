/**
 * The downstream-task scorer goldens (shared/reference/scoring/<task>.json, produced by the
 * paper's original scripts): for each of the eight tasks and both scripts (before / after editing),
 * every case through `rescore()` in paper mode must give the golden per-case outcome, the cases in
 * order the golden aggregate (result file text and crash included), isolated cases a crash, and
 * the aggregate edge runs (all-invalid full files, ZeroDivisionError subsets, ...) their values.
 * Prompts are compared byte for byte, the GPT-2 decode and the paper text T too. A few cases also
 * go through the real command line (`lmedit eval rescore --json`).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';
import { loadTaskExamples } from '../../src/eval/data.js';
import { rescore, type PredictionLine } from '../../src/eval/rescore.js';
import { paperText } from '../../src/eval/text.js';
import { getTask, type EntityType, type ScriptVariant, type TaskItem } from '../../src/eval/tasks/index.js';
import { haveShared, readJson, sharedPath, skipNoShared } from './shared.js';

const bin = resolve(fileURLToPath(new URL('../../bin/lmedit.js', import.meta.url)));
const EOS = '<|endoftext|>';
const EOS_ID = 50256;
const VARIANTS: readonly ScriptVariant[] = ['before', 'after'];
/** the aggregate value each task reports as `primary` (docs/evaluation.md, "Tasks"; tasks/types.ts) */
const PRIMARY: Record<string, string> = {
  gsm8k: 'acc',
  rte: 'total_accuracy',
  'nq-open': 'em',
  boolq: 'total_accuracy',
  mutual: 'accuracy',
  samsum: 'rouge_mean_over_818',
  conll2003: 'acc_total',
  sst2: 'total_accuracy',
};

type Json = Record<string, unknown>;
type ByVariant = Record<ScriptVariant, Json>;

/** One generation of a case (NER: one per entity type). */
interface Generation {
  prompt: string;
  continuation: string;
  continuation_ids: number[];
  pad_tokens: number;
  decoded_text: string;
  outcome: ByVariant;
  outcome_scored_alone?: ByVariant;
}

interface GoldenCase extends Partial<Generation> {
  id: string;
  example_index: number;
  note: string;
  types?: Record<EntityType, Generation>;
}

interface EdgeRun {
  name: string;
  example_indices: number[] | string;
  continuation: string;
  aggregate: ByVariant;
}

interface Golden {
  task: string;
  data_file: string;
  cases: GoldenCase[];
  aggregate: ByVariant;
  isolated_cases: GoldenCase[];
  aggregate_edge_runs: EdgeRun[];
  prompt_checks: { example_index: number; case_id: string; prompt?: string; prompts?: Record<EntityType, string> }[];
}

/** The case's generations with their entity type (none outside NER), in the golden's order. */
function generations(c: GoldenCase): { type?: EntityType; g: Generation }[] {
  if (c.types) return (Object.entries(c.types) as [EntityType, Generation][]).map(([type, g]) => ({ type, g }));
  return [{ g: c as Generation }];
}

function lines(c: GoldenCase): PredictionLine[] {
  return generations(c).map(({ type, g }) => ({
    example_index: c.example_index,
    continuation_ids: g.continuation_ids,
    pad_tokens: g.pad_tokens,
    ...(type ? { entity_type: type } : {}),
  }));
}

/** Every field of `expected` in `actual`: numbers to 1e-12, everything else exactly. */
function assertMatches(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', `${where}: expected the number ${expected}, got ${JSON.stringify(actual)}`);
    assert.ok(Math.abs((actual as number) - expected) <= 1e-12, `${where}: ${actual as number} vs ${expected}`);
  } else if (expected === 'nan' && typeof actual === 'number') {
    assert.ok(Number.isNaN(actual), `${where}: expected nan, got ${actual}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected a list, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => assertMatches(actual[i], e, `${where}[${i}]`));
  } else if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${where}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, e] of Object.entries(expected)) {
      assert.ok(k in actual, `${where}: missing field "${k}"`);
      assertMatches((actual as Json)[k], e, `${where}.${k}`);
    }
  } else {
    assert.equal(actual, expected, `${where}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
  }
}

/** A golden aggregate vs ours, and `primary` = the task's reported value (null on error/crash). */
function assertAggregate(task: string, actual: Json, expected: Json, where: string): void {
  assertMatches(actual, expected, where);
  const p = expected[PRIMARY[task]!];
  if (p === null || expected['exception'] !== null) assert.equal(actual['primary'], null, `${where}: primary`);
  else assertMatches(actual['primary'], p, `${where}.primary`);
}

/** GPT-2 ids of a continuation text ('<|endoftext|>' is EOS). */
function encodeContinuation(tok: Tokenizer, text: string): number[] {
  const ids: number[] = [];
  text.split(EOS).forEach((piece, i) => {
    if (i > 0) ids.push(EOS_ID);
    if (piece) ids.push(...tok.encode(piece));
  });
  return ids;
}

let tokenizer: Promise<Tokenizer> | null = null;
const gpt2 = (): Promise<Tokenizer> => (tokenizer ??= loadTokenizer(sharedPath('data', 'gpt2-tokenizer')));

const TASK_FILES = ['gsm8k', 'rte', 'nq-open', 'boolq', 'mutual', 'samsum', 'conll2003', 'sst2'];

for (const name of TASK_FILES) {
  describe(`scorer goldens: ${name}`, { skip: skipNoShared }, () => {
    const golden = haveShared ? readJson<Golden>('reference', 'scoring', `${name}.json`) : (null as unknown as Golden);
    const task = getTask(name);
    let tok: Tokenizer;
    let examples: unknown[];
    const dataFile = (): string => sharedPath('data', golden.data_file);
    const run = (variant: ScriptVariant, predictions: PredictionLine[]) =>
      rescore({ task, mode: 'paper', variant, tokenizer: tok, predictions, examples, predictionsFile: `${name} golden` });

    before(async () => {
      tok = await gpt2();
      examples = loadTaskExamples(task, 'paper', dataFile()).examples;
    });

    test("prompts are the scripts' byte for byte (cases and prompt_checks)", () => {
      const itemsOf = (i: number): TaskItem[] => task.items(examples[i], i);
      const promptOf = (i: number, type?: EntityType): string => {
        const items = itemsOf(i);
        const item = type ? items.find((it) => it.entityType === type) : items[0];
        assert.ok(item, `${name} example ${i}: no item${type ? ` for ${type}` : ''}`);
        return item.prompt;
      };
      for (const c of [...golden.cases, ...golden.isolated_cases]) {
        for (const { type, g } of generations(c))
          assert.equal(promptOf(c.example_index, type), g.prompt, `${c.id}${type ? ` ${type}` : ''}`);
      }
      assert.ok(golden.prompt_checks.length > 0);
      for (const pc of golden.prompt_checks) {
        if (pc.prompts) {
          for (const [type, p] of Object.entries(pc.prompts))
            assert.equal(promptOf(pc.example_index, type as EntityType), p, `${pc.case_id} ${type}`);
        } else assert.equal(promptOf(pc.example_index), pc.prompt, pc.case_id);
      }
    });

    test('decode(continuation_ids) and the paper text T', () => {
      for (const c of [...golden.cases, ...golden.isolated_cases]) {
        for (const { type, g } of generations(c)) {
          const where = `${c.id}${type ? ` ${type}` : ''}`;
          assert.equal(tok.decode(g.continuation_ids), g.continuation, `${where}: continuation`);
          assert.equal(
            paperText(tok, tok.encode(g.prompt), g.continuation_ids, g.pad_tokens),
            EOS.repeat(g.pad_tokens) + g.decoded_text,
            `${where}: T`,
          );
        }
      }
    });

    for (const variant of VARIANTS) {
      test(`${variant}-edit script: every case's outcome, then the aggregate over the cases in order`, () => {
        const r = run(variant, golden.cases.flatMap(lines));
        let k = 0;
        for (const c of golden.cases) {
          for (const { type, g } of generations(c)) {
            const got = r.cases[k++]!;
            assert.equal(got.example_index, c.example_index);
            assert.equal(got.entity_type, type);
            assertMatches(got.outcome, g.outcome[variant], `${c.id}${type ? ` ${type}` : ''} (${c.note}) outcome.${variant}`);
          }
        }
        assert.equal(k, r.cases.length);
        assertAggregate(name, r.aggregate, golden.aggregate[variant], `aggregate.${variant}`);
      });

      const alone = golden.cases.filter((c) => c.outcome_scored_alone);
      if (alone.length > 0) {
        test(`${variant}-edit script: outcome_scored_alone (each case as the only one)`, () => {
          for (const c of alone) {
            const r = run(variant, lines(c));
            assertMatches(r.cases[0]!.outcome, c.outcome_scored_alone![variant], `${c.id} outcome_scored_alone.${variant}`);
          }
        });
      }

      if (golden.isolated_cases.length > 0) {
        test(`${variant}-edit script: isolated cases crash the script`, () => {
          for (const c of golden.isolated_cases) {
            const r = run(variant, lines(c));
            const want = generations(c).map(({ g }) => g.outcome[variant]);
            want.forEach((w, i) => assertMatches(r.cases[i]!.outcome, w, `${c.id} outcome.${variant}`));
            const raises = want.find((w) => 'raises' in w)!['raises'];
            assert.equal(r.aggregate['exception'], raises, `${c.id}: the aggregate is the crash`);
            assert.equal(r.aggregate['primary'], null, `${c.id}: a crash is never a number`);
          }
        });
      }

      for (const edge of golden.aggregate_edge_runs) {
        test(`${variant}-edit script: edge run ${edge.name}`, () => {
          const indices = typeof edge.example_indices === 'string' ? examples.map((_, i) => i) : edge.example_indices;
          const rawLines = name === 'nq-open' ? readFileSync(dataFile(), 'utf8').split('\n') : [];
          const continuationIds = (i: number): number[] => {
            if (edge.continuation === EOS) return [EOS_ID];
            if (edge.continuation.startsWith("' ' + first single-word gold")) {
              const answers = (JSON.parse(rawLines[i]!) as { answer: string[] }).answer;
              const word = answers.find((a) => !a.includes(' '));
              assert.ok(word, `${edge.name}: example ${i} has no single-word gold`);
              return encodeContinuation(tok, ` ${word}`);
            }
            return encodeContinuation(tok, edge.continuation);
          };
          const predictions = indices.flatMap((i) => {
            const ids = continuationIds(i);
            const types = task.items(examples[i], i).map((it) => it.entityType);
            return types.map((type) => ({ example_index: i, continuation_ids: ids, ...(type ? { entity_type: type } : {}) }));
          });
          const r = run(variant, predictions);
          assertAggregate(name, r.aggregate, edge.aggregate[variant], `${edge.name}.${variant}`);
        });
      }
    }
  });
}

describe('lmedit eval rescore (the command line, end to end)', { skip: skipNoShared }, () => {
  const runs: { task: string; variant: ScriptVariant }[] = [
    { task: 'rte', variant: 'before' },
    { task: 'boolq', variant: 'after' },
    { task: 'mutual', variant: 'after' },
  ];
  for (const { task, variant } of runs) {
    test(`${task}, --scorer paper --script ${variant} --json: the golden cases and aggregate`, () => {
      const golden = readJson<Golden>('reference', 'scoring', `${task}.json`);
      const tmp = mkdtempSync(join(tmpdir(), 'lmedit-rescore-'));
      try {
        const file = join(tmp, 'predictions.jsonl');
        writeFileSync(
          file,
          golden.cases
            .flatMap(lines)
            .map((l) => JSON.stringify(l))
            .join('\n') + '\n',
        );
        const args = ['eval', 'rescore', '--task', task, '--scorer', 'paper', '--script', variant];
        args.push('--tokenizer', sharedPath('data', 'gpt2-tokenizer'), '--predictions', file, '--json');
        const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout) as { cases: { example_index: number; outcome: Json }[]; aggregate: Json };
        golden.cases.forEach((c, i) => assertMatches(out.cases[i]!.outcome, c.outcome![variant], `${c.id} outcome.${variant}`));
        assertAggregate(task, out.aggregate, golden.aggregate[variant], `aggregate.${variant}`);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }

  test('bad predictions are one-line errors naming the file and line', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'lmedit-rescore-'));
    try {
      const file = join(tmp, 'bad.jsonl');
      writeFileSync(
        file,
        '{"example_index": 0, "continuation_ids": [6407]}\n{"example_index": 99999, "continuation_ids": [6407]}\n',
      );
      const args = [
        'eval',
        'rescore',
        '--task',
        'rte',
        '--scorer',
        'paper',
        '--tokenizer',
        sharedPath('data', 'gpt2-tokenizer'),
        '--predictions',
        file,
      ];
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /bad\.jsonl: line 2: example_index 99999 is out of range/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
