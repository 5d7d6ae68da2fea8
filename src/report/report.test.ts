/**
 * `lmedit report` on synthetic run directories: values land in the right table cells, the CSV's
 * columns, a partial last line is skipped with a warning, paper values only for the paper's
 * models, self-contained HTML, failures in every format, Batch-Single and --compare.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultLine } from '../study/types.js';
import { buildReport, prepareReport, writeReport, CSV_COLUMNS, formatOfFile } from './index.js';
import { buildCharts, NO_SCORE, renderSvg } from './charts.js';
import { taskLabel } from './data.js';
import { heatmapSize, pngSize } from './html.js';
import { paperModelOf, paperVariantOf, PAPER_TASK_ORDER } from './paper-values.js';
import type { TaskName } from '../eval/tasks/types.js';
import type { Table } from './tables.js';
import { writeSyntheticRun } from './testing.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'lmedit-report-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function line(
  cell: string,
  checkpoint: number,
  kind: ResultLine['key']['kind'],
  name: string,
  mode: string,
  value: number | null,
  extra: Partial<ResultLine> = {},
): ResultLine {
  const variant = cell === 'baseline' ? 'unedited' : cell.split('/')[0]!;
  return {
    key: { cell, checkpoint, kind, name, mode },
    variant,
    method: cell === 'baseline' ? '' : 'rome',
    batch_size: cell === 'baseline' ? 0 : 1,
    edits: checkpoint,
    value,
    values: {},
    ...extra,
  };
}

/** A hand-written run with values that are easy to find. */
function handRun(dir: string, model = 'gpt2-xl', extra: ResultLine[] = []): void {
  mkdirSync(dir, { recursive: true });
  const lines: ResultLine[] = [
    line('baseline', 0, 'task', 'sst2', 'paper', 0.5),
    line('baseline', 0, 'task', 'gsm8k', 'paper', 0.25),
    line('baseline', 0, 'task', 'sst2', 'clean', 0.45),
    line('baseline', 0, 'metric', 'rewrite_acc', '', 0.125),
    line('baseline', 0, 'checkpoint', '', '', null),
    line('ROME/b1', 5, 'task', 'sst2', 'paper', 0.4),
    line('ROME/b1', 5, 'task', 'gsm8k', 'paper', 0.3),
    line('ROME/b1', 5, 'task', 'sst2', 'clean', 0.35),
    line('ROME/b1', 5, 'metric', 'rewrite_acc', '', 0.975),
    line('ROME/b1', 5, 'metric', 'locality_acc', '', 0.9),
    line('ROME/b1', 5, 'weights', 'manhattan', '', 12345.67),
    line('ROME/b1', 5, 'weights', 'above_0.077', '', 0.25),
    line('ROME/b1', 5, 'checkpoint', '', '', null),
    line('ROME/b1', 10, 'task', 'sst2', 'paper', 0.125),
    line('ROME/b1', 10, 'task', 'gsm8k', 'paper', null),
    line('ROME/b1', 10, 'checkpoint', '', '', null),
    ...extra,
  ];
  writeFileSync(join(dir, 'results.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      study: {
        name: 'hand',
        model: { path: model, dtype: 'float32' },
        methods: [{ name: 'ROME', method: 'rome' }],
        mode: { sequential: true, batch_sizes: [1], checkpoints: [0, 5, 10] },
      },
      lmedit: { version: '0.1.0', commit: 'abcdef1234567890' },
      model: { path: model },
      created: '2025-01-01T00:00:00Z',
    }),
  );
}

const find = (tables: Table[], id: string): Table => {
  const t = tables.find((x) => x.id === id);
  assert.ok(t, `table ${id} among ${tables.map((x) => x.id).join(', ')}`);
  return t;
};
const cell = (t: Table, row: string, col: string): string => {
  const c = t.columns.indexOf(col);
  assert.ok(c >= 0, `column ${col} in ${t.columns.join(', ')}`);
  const r = t.rows.find((x) => x.cells[0] === row && !x.paper);
  assert.ok(r, `row ${row} in ${t.id}`);
  return r.cells[c]!;
};

describe('report tables', () => {
  test('task scores land in the right row (edits) and column (task, paper order)', () => {
    const dir = join(root, 'hand');
    handRun(dir);
    const { tables, data } = prepareReport(dir);
    assert.deepEqual(data.tasks, ['gsm8k', 'sst2']);
    assert.deepEqual(data.modes, ['paper', 'clean']);
    const paper = tables.downstream.find((x) => x.mode === 'paper')!.tables;
    const t = find(paper, 'downstream-paper-rome');
    assert.deepEqual(t.columns, ['edits', 'Reas (gsm8k)', 'SA (sst2)']);
    assert.deepEqual(
      t.rows.map((r) => r.cells),
      [
        ['0', '0.250', '0.500'],
        ['5', '0.300', '0.400'],
        ['10', '—', '0.125'],
      ],
    );
    const clean = find(tables.downstream.find((x) => x.mode === 'clean')!.tables, 'downstream-clean-rome');
    assert.equal(cell(clean, '5', 'SA (sst2)'), '0.350');
    // editing performance: the unedited pre row and the edited rows
    const ed = find(tables.editing, 'editing');
    assert.deepEqual(ed.columns, ['variant', 'edits', 'Rel', 'Loc']);
    assert.equal(cell(ed, 'unedited (pre)', 'Rel'), '0.125');
    assert.equal(cell(ed, 'ROME', 'Rel'), '0.975');
    assert.equal(cell(ed, 'ROME', 'Loc'), '0.900');
    // weight change: Σ|ΔW| and the share above 0.077 in percent
    const w = find(tables.weights, 'weights');
    assert.equal(cell(w, 'ROME', 'Σ|ΔW|'), '12345.7');
    assert.equal(cell(w, 'ROME', '% δ > 0.077'), '25.0');
  });

  test('a checkpoint without its checkpoint line is marked as partial', () => {
    const dir = join(root, 'partial');
    handRun(dir, 'gpt2-xl', [line('ROME/b1', 15, 'task', 'sst2', 'paper', 0.1)]);
    const { tables } = prepareReport(dir);
    const t = find(tables.downstream[0]!.tables, 'downstream-paper-rome');
    assert.equal(t.rows.at(-1)!.cells[0], '15†');
    assert.match(t.note ?? '', /did not finish/);
  });
});

describe('report formats', () => {
  test('csv: one tidy row per measurement with the documented columns', async () => {
    const dir = join(root, 'hand-csv');
    handRun(dir);
    const r = await buildReport(dir, { format: 'csv' });
    const rows = r.content.trim().split('\n');
    assert.equal(rows[0], CSV_COLUMNS.join(','));
    assert.equal(rows[0], 'variant,method,batch_size,edits,kind,name,mode,value');
    // 16 lines, 3 of them checkpoint markers
    assert.equal(rows.length, 1 + 13);
    assert.ok(rows.includes('ROME,rome,1,5,task,sst2,paper,0.4'));
    assert.ok(rows.includes('ROME,rome,1,10,task,gsm8k,paper,'), 'null value is empty');
    assert.ok(rows.includes('unedited,,0,0,metric,rewrite_acc,,0.125'));
    for (const r2 of rows) assert.equal(r2.split(',').length, 8, r2);
  });

  test('a partial last line is skipped, with a warning in every format', async () => {
    const dir = join(root, 'truncated');
    writeSyntheticRun(dir, { truncated: true, heatmaps: false });
    const { data } = prepareReport(dir);
    assert.ok(!data.runs[0]!.data.lines.some((l) => l.key.checkpoint === 25));
    for (const format of ['md', 'csv', 'html'] as const) {
      const r = await buildReport(dir, { format });
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0]!, /partial last line/);
      if (format !== 'csv') assert.match(r.content, /partial last line/);
      else assert.ok(!r.content.includes(',25,'));
    }
  });

  test('paper values appear only for the paper models, and only in paper mode', async () => {
    const gpt = join(root, 'paper-gpt2xl');
    const other = join(root, 'paper-other');
    const llama2 = join(root, 'paper-llama2');
    handRun(gpt, 'openai-community/gpt2-xl');
    handRun(other, '/models/stories260K');
    handRun(llama2, 'meta-llama/Llama-2-7b-hf');
    const md = (await buildReport(gpt, { format: 'md' })).content;
    assert.match(md, /ROME — the paper \(GPT-2 XL, §5\.2/);
    assert.match(md, /paper, GPT-2 XL \(§5\.1\)/);
    assert.match(md, /\| 5 \| 0\.390 \| 0\.563 \|/, 'the paper’s 5-edit row (Reas, SA)');
    assert.match(md, /paper: ROME \| 5 \| 27072\.2/, 'weight change §5.6');
    const { tables } = prepareReport(gpt);
    const clean = tables.downstream.find((x) => x.mode === 'clean')!.tables;
    assert.ok(!clean.some((t) => t.id.startsWith('paper-')), 'no paper values beside clean scores');
    for (const dir of [other, llama2]) {
      for (const format of ['md', 'html'] as const) {
        const c = (await buildReport(dir, { format })).content;
        const hit = /the paper \(GPT-2 XL|the paper \(LLaMA|paper, GPT-2 XL|paper: ROME|§5\.\d/.exec(c);
        assert.equal(hit, null, `${dir} ${format}: ${hit?.[0]}`);
        assert.match(c, /none \(the paper did not use this model\)/);
      }
    }
    const g = prepareReport(gpt).data;
    const charts = buildCharts(g);
    const down = charts.find((c) => c.id === 'downstream-paper')!;
    assert.match(JSON.stringify(down.spec), /"source":"paper"/);
    const o = buildCharts(prepareReport(other).data);
    for (const c of o) assert.doesNotMatch(JSON.stringify(c.spec), /"source":"paper"/, c.id);
  });

  test('paper model and variant recognition', () => {
    assert.equal(paperModelOf('gpt2-xl'), 'gpt2-xl');
    assert.equal(paperModelOf('/data/models/openai-community/gpt2-xl/'), 'gpt2-xl');
    assert.equal(paperModelOf('gpt2'), null);
    assert.equal(paperModelOf('gpt2-large'), null);
    assert.equal(paperModelOf('huggyllama/llama-7b'), 'llama-7b');
    assert.equal(paperModelOf('decapoda-research/llama-7b-hf'), 'llama-7b');
    assert.equal(paperModelOf('meta-llama/Llama-2-7b-hf'), null);
    assert.equal(paperModelOf('openlm-research/open_llama_7b'), null);
    assert.equal(paperModelOf('codellama/CodeLlama-7b-hf'), null);
    assert.equal(paperModelOf('huggyllama/llama-13b'), null);
    assert.equal(paperModelOf('/root/.cache/huggingface/hub/models--huggyllama--llama-7b/snapshots/8416d3f'), 'llama-7b');
    assert.equal(paperModelOf('/cache/models--openai-community--gpt2-xl/snapshots/abc'), 'gpt2-xl');
    assert.equal(paperVariantOf(undefined), 'unreg');
    assert.equal(paperVariantOf({ keep: 0.4, mode: 'rect' }), 'top-40');
    assert.equal(paperVariantOf({ keep: 0.4, mode: 'pca' }), 'pca-40');
    assert.equal(paperVariantOf({ keep: 0.4, mode: 'random' }), 'random-40');
    assert.equal(paperVariantOf({ keep: 0.5, mode: 'rect' }), null);
    assert.equal(paperVariantOf({ keep: 0.2, mode: 'random' }), null);
  });

  test('html is self-contained: inline SVG charts with marks, heat maps as data URIs, no URLs', async () => {
    const dir = join(root, 'html');
    writeSyntheticRun(dir);
    const r = await buildReport(dir, { format: 'html' });
    const html = r.content;
    const urls = html.match(/https?:\/\/[^\s"'<>)]*/g);
    assert.equal(urls, null, `no http(s) URL anywhere (the synthetic run has none in its text): ${urls?.slice(0, 3).join(' ')}`);
    assert.ok(!/<(script|link|iframe)\b/i.test(html), 'no scripts or external resources');
    const refs = html.match(/\b(src|href)\s*=\s*(?!["']?(data:|#))[^\s>]{0,40}/gi);
    assert.equal(refs, null, `only data: URIs and in-page anchors: ${refs?.join(' ')}`);
    const charts = [...html.matchAll(/<figure class="chart" id="chart-([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(charts, ['downstream-paper', 'comparison-paper', 'editing', 'weights']);
    const svgs = html.match(/<svg\b/g) ?? [];
    assert.equal(svgs.length, charts.length);
    assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 4, 'one heat map per cell');
    // 32 × 128 heat maps drawn at 80 × 320: the aspect ratio kept
    assert.equal((html.match(/base64,[^"]*" width="80" height="320">/g) ?? []).length, 4);
    for (const id of ['baseline', 'comparison-paper', 'editing', 'weights']) assert.ok(html.includes(`id="${id}"`), id);
    assert.match(html, /<title>Study report: rect-gpt2xl-sequential<\/title>/);
    assert.match(html, /commit 0123456789/);
  });

  test('a task without any paper-mode score keeps its panel, with a "no score" note and no axes', async () => {
    const labels = PAPER_TASK_ORDER.map(taskLabel);
    const nulls: TaskName[] = ['rte', 'boolq', 'sst2'];
    // gpt2: no paper figure, so the three panels have nothing to draw; gpt2-xl: the paper's lines stay, with the note
    for (const [model, axes] of [
      ['gpt2', 5],
      ['gpt2-xl', 8],
    ] as const) {
      const dir = join(root, `null-paper-${model}`);
      writeSyntheticRun(dir, { model, heatmaps: false, nullScores: { mode: 'paper', tasks: nulls } });
      const { data } = prepareReport(dir);
      const charts = buildCharts(data);
      const down = charts.find((c) => c.id === 'downstream-paper')!;
      const spec = down.spec as unknown as { concat: { title: { text: string }; mark?: unknown; layer?: unknown[] }[] };
      assert.deepEqual(
        spec.concat.map((v) => v.title.text),
        labels,
        'one panel per task, in the paper order',
      );
      const svg = await renderSvg(down.spec);
      const titles = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
      for (const l of labels) assert.ok(titles.includes(l), `${model}: panel title ${l}`);
      assert.equal(titles.filter((t) => t === NO_SCORE).length, nulls.length, `${model}: a note in each panel without a score`);
      // an axis pair per panel that has something to draw: none under the empty ones, none stray
      assert.equal((svg.match(/aria-label="X-axis/g) ?? []).length, axes, `${model}: x axes`);
      assert.equal((svg.match(/aria-label="Y-axis/g) ?? []).length, axes, `${model}: y axes`);
      for (const t of nulls) assert.match(down.caption, new RegExp(`no value for .*${t}`));
      // the comparison keeps every task's place, with the note where there is no bar
      const cmp = await renderSvg(charts.find((c) => c.id === 'comparison-paper')!.spec);
      const cmpText = [...cmp.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
      for (const g of ['Reas', 'NLI', 'ODQA', 'CDQA', 'Dial', 'Summ', 'NER', 'SA'])
        assert.ok(cmpText.includes(g), `${model}: group ${g}`);
      assert.equal(cmpText.filter((t) => t === NO_SCORE).length, nulls.length);
      // the clean scorer has every task
      const clean = buildCharts(data, ['clean']).find((c) => c.id === 'downstream-clean')!;
      assert.doesNotMatch(await renderSvg(clean.spec), /no score/);
    }
  });

  test('heat maps keep their aspect ratio inside the box', () => {
    assert.deepEqual(heatmapSize({ width: 172, height: 64 }), { width: 260, height: 97 });
    assert.deepEqual(heatmapSize({ width: 32, height: 128 }), { width: 80, height: 320 });
    assert.deepEqual(heatmapSize({ width: 2000, height: 1000 }), { width: 260, height: 130 });
    assert.equal(pngSize(Buffer.from('not a png at all, not a png at all')), null);
  });

  test('every chart renders to an SVG with data marks', async () => {
    const dir = join(root, 'charts');
    writeSyntheticRun(dir, { heatmaps: false });
    const { data } = prepareReport(dir);
    const charts = buildCharts(data, ['paper', 'clean']);
    assert.deepEqual(
      charts.map((c) => c.id),
      ['downstream-paper', 'downstream-clean', 'comparison-paper', 'comparison-clean', 'editing', 'weights'],
    );
    for (const c of charts) {
      const svg = await renderSvg(c.spec);
      const marks = svg.match(/class="mark-(line|symbol|rect)[^"]*role-mark[^"]*"/g) ?? [];
      assert.ok(marks.length > 0, `${c.id} has marks`);
      assert.match(svg, /<path[^>]* d="M/, `${c.id} draws paths`);
    }
  });

  test('a failure line is listed in md, csv and html (escaped)', async () => {
    const dir = join(root, 'failure');
    const error = 'v* diverged: loss <NaN> | step 3 & "more"';
    writeSyntheticRun(dir, { failure: { variant: 'ROME+RECT-20%', checkpoint: 15, error }, heatmaps: false });
    const md = (await buildReport(dir, { format: 'md' })).content;
    assert.match(md, /## Failures/);
    assert.ok(
      md.includes('| ROME+RECT-20%/b1 | ROME+RECT-20% | 15 | v* diverged: loss <NaN> \\| step 3 & "more" |'),
      md.slice(-800),
    );
    const csv = (await buildReport(dir, { format: 'csv' })).content;
    assert.ok(csv.split('\n').includes('ROME+RECT-20%,rome,1,15,failure,,,'));
    const html = (await buildReport(dir, { format: 'html' })).content;
    assert.ok(html.includes('v* diverged: loss &lt;NaN&gt; | step 3 &amp; &quot;more&quot;'));
    assert.match(html, /1 failure\(s\)/);
    // the failed cell stops at 10 edits; the comparison says so
    assert.match(html, /except ROME\+RECT-20% \(10\)/);
  });

  test('Batch-Single: x is the batch size, one series per variant; MEMIT on GPT-2 XL gets §5.3', async () => {
    const dir = join(root, 'single');
    writeSyntheticRun(dir, {
      sequential: false,
      checkpoints: [100, 1000],
      variants: [{ name: 'MEMIT', method: 'memit' }],
      heatmaps: false,
    });
    const { data, tables } = prepareReport(dir);
    assert.equal(data.xTitle, 'batch size');
    assert.equal(data.series.length, 1);
    const t = find(tables.downstream[0]!.tables, 'downstream-paper-memit');
    assert.deepEqual(
      t.rows.map((r) => r.cells[0]),
      ['0', '100', '1000'],
    );
    const p = find(tables.downstream[0]!.tables, 'paper-paper-memit');
    assert.deepEqual(
      p.rows.map((r) => r.cells[0]),
      ['0', '100', '1000', '2000', '3000'],
    );
    assert.equal(p.rows[4]!.cells[1], '~0');
    const html = (await buildReport(dir, { format: 'html' })).content;
    assert.match(html, /Downstream tasks vs batch size/);
    // the run without manifest is recognised as Batch-Single too
    rmSync(join(dir, 'manifest.json'));
    assert.equal(prepareReport(dir).data.sequential, false);
  });

  test('--compare: the other run’s variants beside this run’s, labelled by run name', async () => {
    const a = join(root, 'cmp', 'gpt2xl-run');
    const b = join(root, 'cmp', 'llama-run');
    writeSyntheticRun(a, { heatmaps: false, variants: [{ name: 'ROME', method: 'rome' }] });
    writeSyntheticRun(b, {
      heatmaps: false,
      model: 'huggyllama/llama-7b',
      variants: [{ name: 'ROME', method: 'rome' }],
      checkpoints: [2, 4],
      seed: 3,
    });
    const { data, tables } = prepareReport(a, [b]);
    assert.deepEqual(
      data.series.map((s) => s.label),
      ['gpt2xl-run: ROME', 'llama-run: ROME'],
    );
    const ids = tables.downstream[0]!.tables.map((t) => t.id);
    assert.ok(ids.includes('downstream-paper-gpt2xl-run-rome') && ids.includes('downstream-paper-llama-run-rome'), ids.join());
    assert.ok(ids.includes('paper-paper-llama-run-rome'), 'LLaMA-1 §5.2 beside the llama run');
    const csv = (await buildReport(a, { format: 'csv', compare: b })).content;
    assert.equal(csv.split('\n')[0], 'run,variant,method,batch_size,edits,kind,name,mode,value');
    assert.ok(csv.includes('\nllama-run,ROME,rome,1,4,task,'));
    const html = (await buildReport(a, { format: 'html', compare: [b] })).content;
    assert.match(html, /<title>Study report: gpt2xl-run vs llama-run<\/title>/);
    assert.match(html, /llama-run: ROME/);
    // same directory name twice: still two distinct labels
    const same = prepareReport(a, [a]).data.series.map((s) => s.label);
    assert.deepEqual(same, ['gpt2xl-run: ROME', 'gpt2xl-run (2): ROME']);
  });

  test('md to a file: chart SVGs beside it, linked relatively; heat maps linked', async () => {
    const dir = join(root, 'mdfile');
    writeSyntheticRun(dir);
    const out = join(root, 'mdout', 'study.md');
    const r = await writeReport(dir, { format: 'md', outFile: out });
    assert.equal(r.assets.length, 4);
    for (const a of r.assets) {
      assert.ok(existsSync(a.path), a.path);
      assert.match(readFileSync(a.path, 'utf8'), /^<svg/);
    }
    const md = readFileSync(out, 'utf8');
    assert.match(md, /!\[Downstream tasks vs edits — paper scorer\]\(study-charts\/downstream-paper\.svg\)/);
    assert.match(md, /\.\.\/mdfile\/weights\/ROME__b1\/heatmap-transformer\.h\.17\.mlp\.c_proj\.weight\.png/);
    assert.equal(formatOfFile('x.HTML'), 'html');
    assert.equal(formatOfFile('x.txt'), null);
  });

  test('a run without results.jsonl is a clear error', async () => {
    const dir = join(root, 'empty');
    mkdirSync(dir, { recursive: true });
    await assert.rejects(buildReport(dir), /no results\.jsonl/);
  });
});

describe('lmedit report (CLI)', () => {
  test('--out picks the format from the extension; warnings go to stderr', () => {
    const dir = join(root, 'cli-run');
    writeSyntheticRun(dir, { truncated: true, heatmaps: false });
    const bin = resolve(fileURLToPath(new URL('../../bin/lmedit.js', import.meta.url)));
    const out = join(root, 'cli', 'r.html');
    const r = spawnSync(process.execPath, [bin, 'report', dir, '--out', out], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: .*partial last line/);
    assert.match(readFileSync(out, 'utf8'), /^<!doctype html>/);
    const csv = spawnSync(process.execPath, [bin, 'report', dir, '--format', 'csv'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(csv.status, 0, csv.stderr);
    assert.match(csv.stdout, /^variant,method,batch_size,edits,kind,name,mode,value\n/);
    const bad = spawnSync(process.execPath, [bin, 'report', dir, '--format', 'pdf'], { encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--format must be one of md, csv, html/);
  });
});
