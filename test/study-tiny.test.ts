/**
 * The acceptance run: the ROME Instance-Sequential preset at `--scale tiny` with RECT on
 * stories260K (ROME vs ROME+RECT-40%, checkpoints 0/2/4, all eight tasks at three examples, the
 * editing metrics on ZsRE) completes, every cell × checkpoint has its lines, and its HTML report
 * renders in chromium (every chart with data marks, heat maps decoded, no console errors).
 * LMEDIT_REPORT_SCREENSHOT=docs/report.png writes the README's screenshot from this real run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { checkCharts, chromiumExecutable, chromiumSkip, heatmapBoxes } from './browser.js';
import { modelDir, skipNoShared } from './golden/shared.js';
import { readResultLines } from '../src/study/results.js';
import { TASK_NAMES } from '../src/eval/tasks/types.js';

const bin = resolve(fileURLToPath(new URL('../bin/lmedit.js', import.meta.url)));

describe('study: ROME Instance-Sequential preset, tiny scale, with RECT (stories260K)', { skip: skipNoShared }, () => {
  test('runs to the end with every line of every cell and checkpoint; status says done; the report renders', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'lmedit-study-tiny-'));
    try {
      const out = join(dir, 'run');
      const args = [
        'study',
        'run',
        'rome-instance-sequential',
        '--scale',
        'tiny',
        '--rect',
        '0.4',
        '--model',
        modelDir('stories260K'),
      ];
      const r = spawnSync(process.execPath, [bin, ...args, '--out', out], { encoding: 'utf8', timeout: 600_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /\[5\/5 checkpoints\]/);
      const { lines, tail } = readResultLines(join(out, 'results.jsonl'));
      assert.equal(tail, null);
      const at = (cell: string, cp: number) => lines.filter((l) => l.key.cell === cell && l.key.checkpoint === cp);
      for (const [cell, cps] of [
        ['baseline', [0]],
        ['ROME/b1', [2, 4]],
        ['ROME+RECT-40%/b1', [2, 4]],
      ] as const) {
        for (const cp of cps) {
          const mine = at(cell, cp);
          const tasks = mine.filter((l) => l.key.kind === 'task');
          assert.deepEqual(new Set(tasks.map((l) => l.key.name)), new Set(TASK_NAMES), `${cell}@${cp}: all eight tasks`);
          assert.equal(tasks.length, 16, `${cell}@${cp}: paper and clean scores`);
          assert.ok(
            tasks.every((l) => l.values['examples'] === 3 || l.key.name === 'conll2003'),
            `${cell}@${cp}: three examples each`,
          );
          const metric = (n: string) => mine.find((l) => l.key.kind === 'metric' && l.key.name === n)?.value;
          assert.equal(typeof metric('rewrite_acc'), 'number', `${cell}@${cp}: reliability`);
          if (cell !== 'baseline') {
            assert.equal(typeof metric('locality_acc'), 'number', `${cell}@${cp}: locality`);
            const w = mine.find((l) => l.key.kind === 'weights' && l.key.name === 'manhattan');
            assert.ok(w && w.value! > 0, `${cell}@${cp}: weight change`);
          }
          assert.ok(
            mine.some((l) => l.key.kind === 'checkpoint'),
            `${cell}@${cp}: finished`,
          );
        }
      }
      // RECT keeps 40% of each ΔW: the regularised run moves the weights less
      const manhattan = (cell: string) => at(cell, 4).find((l) => l.key.kind === 'weights' && l.key.name === 'manhattan')!.value!;
      assert.ok(manhattan('ROME+RECT-40%/b1') < manhattan('ROME/b1'));
      const s = spawnSync(process.execPath, [bin, 'study', 'status', out, '--json'], { encoding: 'utf8' });
      const status = JSON.parse(s.stdout) as { checkpoints: { done: number; total: number } };
      assert.deepEqual(status.checkpoints, { done: 5, total: 5 });

      const html = join(out, 'report.html');
      const rep = spawnSync(process.execPath, [bin, 'report', out, '--format', 'html', '--out', html], { encoding: 'utf8' });
      assert.equal(rep.status, 0, rep.stderr);
      if (chromiumSkip) return t.skip(chromiumSkip);
      const browser = await chromium.launch({ executablePath: chromiumExecutable!, headless: true, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
        const errors: string[] = [];
        page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
        const charts = await checkCharts(page);
        assert.ok(charts.length >= 4, `${charts.length} charts`);
        for (const c of charts) assert.ok(c.svgs === 1 && c.marks > 0 && c.width > 100, `${c.id}: rendered with data marks`);
        const heatmaps = await page.$$eval('figure.heatmap img', (imgs) =>
          imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth),
        );
        assert.ok(heatmaps.length === 2 && heatmaps.every((w) => w > 0), 'one decoded heat map per cell');
        // 64 × 172 maps: drawn at their aspect ratio, the colour scale right under them
        const boxes = await heatmapBoxes(page);
        for (const b of boxes) assert.ok(Math.abs(b.w / b.h - b.nw / b.nh) < 0.05 && b.gap >= 0 && b.gap < 10, JSON.stringify(b));
        // one panel per task in every downstream chart, whether or not the scorer gave a value
        const panels = await page.$$eval('figure.chart[data-chart^="downstream-"] svg', (svgs) =>
          svgs.map((svg) => [...svg.querySelectorAll('text')].map((t) => t.textContent ?? '')),
        );
        for (const texts of panels)
          for (const t of TASK_NAMES)
            assert.ok(
              texts.some((x) => x.endsWith(`(${t})`)),
              `a panel for ${t}`,
            );
        assert.deepEqual(errors, []);
        const shot = join(dir, 'report.png');
        await page.screenshot({ path: shot, clip: { x: 0, y: 0, width: 1280, height: 1600 } });
        assert.ok(statSync(shot).size > 10_000);
        const docs = process.env['LMEDIT_REPORT_SCREENSHOT'];
        if (docs) copyFileSync(shot, docs);
      } finally {
        await browser.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
