/**
 * paper-values.ts against the spec it transcribes (../shared/spec/evaluation.md §5): every number
 * of every table, parsed from the Markdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { SHARED } from '../testing.js';
import { join } from 'node:path';
import {
  PAPER_BASELINES,
  PAPER_DOWNSTREAM,
  PAPER_EDITING,
  PAPER_TASK_ORDER,
  PAPER_WEIGHTS,
  paperDownstream,
} from './paper-values.js';

const specPath = join(SHARED, 'spec', 'evaluation.md');
const skip = existsSync(specPath) ? false : `${specPath} not found (set LMEDIT_SHARED)`;

test('every reference value equals the spec’s §5 tables', { skip }, () => {
  const spec = readFileSync(specPath, 'utf8');
  const sec = (a: string, b: string): string => spec.slice(spec.indexOf(a), spec.indexOf(b, spec.indexOf(a)));
  const rows = (t: string): string[][] =>
    t
      .split('\n')
      .filter((l) => l.startsWith('|') && !l.startsWith('|---'))
      .slice(1)
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
  const num = (c: string): number => (c === '~0' ? 0 : Number(c.startsWith('.') ? `0${c}` : c));
  const close = (a: number | undefined, b: number, what: string): void => {
    assert.ok(a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${a} vs spec ${b}`);
  };
  let n = 0;
  for (const r of rows(sec('### 5.1', '### 5.2'))) {
    const m = r[0] === 'GPT-2 XL' ? 'gpt2-xl' : 'llama-7b';
    PAPER_TASK_ORDER.forEach((t, i) => (n++, close(PAPER_BASELINES[m][t], num(r[i + 1]!), `5.1 ${m} ${t}`)));
  }
  const [gpt, llama] = sec('### 5.2', '### 5.3').split('**LLaMA-1 7B**');
  for (const [model, txt] of [
    ['gpt2-xl', gpt!],
    ['llama-7b', llama!],
  ] as const) {
    const vals = paperDownstream({ model, method: 'rome', setting: 'sequential', variant: 'unreg' });
    for (const r of rows(txt))
      PAPER_TASK_ORDER.forEach((t, i) => {
        n++;
        close(vals.find((p) => p.x === Number(r[0]) && p.task === t)?.value, num(r[i + 1]!), `5.2 ${model} ${r[0]} ${t}`);
      });
  }
  for (const r of rows(sec('### 5.3', '### 5.4'))) {
    const parts = r[0]!.split(' ');
    const model = parts[1] === 'GPT-2' ? 'gpt2-xl' : 'llama-7b';
    const batch = Number(parts.at(-1)!.slice(1));
    const vals = paperDownstream({ model, method: parts[0]!.toLowerCase(), setting: 'single', variant: 'unreg' });
    PAPER_TASK_ORDER.forEach((t, i) => {
      n++;
      const v = vals.find((p) => p.x === batch && p.task === t);
      close(v?.value, num(r[i + 1]!), `5.3 ${r[0]} ${t}`);
      assert.equal(v?.approx === true, r[i + 1] === '~0', `5.3 ${r[0]} ${t} approx`);
    });
  }
  const variants = ['unreg', 'top-80', 'top-60', 'top-40', 'top-20', 'random-40', 'pca-40'];
  const metricOf: Record<string, string> = { Rel: 'rewrite_acc', Gen: 'rephrase_acc', Loc: 'locality_acc' };
  for (const r of rows(sec('### 5.4', 'Top-40 % relative'))) {
    const parts = r[0]!.split(' ');
    const model = parts[1] === 'GPT-2' ? 'gpt2-xl' : 'llama-7b';
    variants.forEach((v, i) => {
      n++;
      const x = PAPER_EDITING.find(
        (p) =>
          p.model === model && p.method === parts[0]!.toLowerCase() && p.variant === v && p.metric === metricOf[parts.at(-1)!],
      );
      close(x?.value, num(r[i + 1]!), `5.4 ${r[0]} ${v}`);
    });
  }
  const taskOf: Record<string, string> = { Summ: 'samsum', ODQA: 'nq-open', CDQA: 'boolq', SA: 'sst2' };
  for (const r of rows(sec('### 5.5', 'Reading the table')))
    variants.forEach((v, i) =>
      r[i + 1]!.split('/').forEach((c, j) => {
        n++;
        const x = PAPER_DOWNSTREAM.find(
          (p) => p.source.startsWith('§5.5') && p.variant === v && p.task === taskOf[r[0]!] && p.x === 5 * (j + 1),
        );
        close(x?.value, num(c), `5.5 ${r[0]} ${v} @${5 * (j + 1)}`);
      }),
    );
  for (const r of rows(sec('### 5.6', '0.077 and 0.171 are'))) {
    const at = (name: string): number | undefined => PAPER_WEIGHTS.find((p) => p.x === Number(r[0]) && p.name === name)?.value;
    close(at('manhattan'), num(r[1]!), `5.6 ${r[0]} manhattan`);
    close((at('above_0.077') ?? NaN) * 100, num(r[2]!), `5.6 ${r[0]} > 0.077`);
    close((at('above_0.171') ?? NaN) * 100, num(r[3]!), `5.6 ${r[0]} > 0.171`);
    n += 3;
  }
  assert.equal(n, 376);
});
