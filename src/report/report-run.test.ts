/**
 * The report on a run directory written by the real runner (tiny-gpt2 from ../shared, ROME and
 * ROME+RECT-40%, two tasks on 4 examples, editing metrics, weight change and heat maps): every
 * checkpoint lands in the tables, the CSV carries every measurement and the HTML embeds the heat
 * maps the runner wrote.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModel } from '../models/index.js';
import { makeManifest, writeOrCheckManifest } from '../study/manifest.js';
import { runStudy } from '../study/run.js';
import { parseStudy } from '../study/spec.js';
import { modelDir, sharedPath, skipNoShared } from '../testing.js';
import { buildReport, prepareReport } from './index.js';

describe('report of a real run (tiny-gpt2)', { skip: skipNoShared }, () => {
  test('tables, CSV and HTML from what the runner wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-report-run-'));
    try {
      const { model, tokenizer, dir: mdir } = await openModel(modelDir('tiny-gpt2'));
      const spec = parseStudy(
        {
          name: 'report-run',
          model: { path: mdir },
          methods: [
            { method: 'rome', preset: 'tiny-gpt2' },
            { method: 'rome', preset: 'tiny-gpt2', rect: { keep: 0.4, mode: 'rect' } },
          ],
          mode: { sequential: true, batch_sizes: [1], checkpoints: [0, 1, 2] },
          data: { file: sharedPath('data', 'zsre', 'zsre_mend_eval_portability_gpt4.json') },
          tasks: { names: ['sst2', 'rte'], limit: 4, scorer: 'both', batch_size: 4 },
          metrics: { enabled: true, order: 'post-each' },
        },
        'test',
      );
      const out = join(dir, 'run');
      writeOrCheckManifest(out, await makeManifest(spec, mdir));
      const outcome = await runStudy(spec, { out, model, tokenizer });
      model.dispose();
      assert.equal(outcome.failures.length, 0);

      const { data, tables } = prepareReport(out);
      assert.deepEqual(
        data.series.map((s) => s.label),
        spec.methods.map((m) => m.name),
      );
      assert.deepEqual(data.tasks, ['rte', 'sst2']);
      assert.deepEqual(data.modes, ['paper', 'clean']);
      assert.equal(data.runs[0]!.paperModel, null);
      for (const { tables: ts } of tables.downstream)
        for (const t of ts) {
          assert.deepEqual(
            t.rows.map((r) => r.cells[0]),
            ['0', '1', '2'],
            t.id,
          );
          assert.ok(!t.id.startsWith('paper-'));
        }
      const ed = tables.editing[0]!;
      assert.ok(ed.columns.includes('Rel') && ed.columns.includes('Loc'), ed.columns.join());
      const w = tables.weights[0]!;
      assert.equal(w.rows.length, 4, 'two variants × two checkpoints');

      const lines = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n');
      const measurements = lines.filter((l) => !l.includes('"kind":"checkpoint"')).length;
      const csv = (await buildReport(out, { format: 'csv' })).content.trim().split('\n');
      assert.equal(csv.length, 1 + measurements);

      const html = (await buildReport(out, { format: 'html' })).content;
      assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 2, 'one heat map per cell');
      assert.ok((html.match(/<svg\b/g) ?? []).length >= 3);
      assert.equal(html.match(/https?:\/\//g), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
