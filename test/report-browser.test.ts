/**
 * The HTML report in a real browser (Debian's chromium, headless, through playwright-core): every
 * chart renders with data marks, heat maps load, nothing is fetched from the network, the console
 * stays clean, and a screenshot is saved. Skips when no chromium is installed (.ci/run installs it).
 *
 * LMEDIT_CHROMIUM=/path/to/chrome picks another browser; LMEDIT_REPORT_SCREENSHOT=docs/report.png
 * also writes the documentation screenshot (the first 1600 px of a clean synthetic report).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { checkCharts, chromiumExecutable as executable, chromiumSkip as skip, heatmapBoxes } from './browser.js';
import { buildReport } from '../src/report/index.js';
import { writeSyntheticRun } from '../src/report/testing.js';

describe('HTML report in chromium', { skip }, () => {
  let browser: Browser;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lmedit-report-browser-'));
    browser = await chromium.launch({ executablePath: executable!, headless: true, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(html: string, width = 1280): Promise<{ page: Page; errors: string[]; requests: string[] }> {
    const file = join(dir, `report-${Math.random().toString(36).slice(2)}.html`);
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width, height: 1600 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => {
      if (!/^(file|data):/.test(r.url())) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    return { page, errors, requests };
  }

  test('every chart renders with data marks; heat maps load; no console errors; no network', async () => {
    const run = join(dir, 'run');
    writeSyntheticRun(run, {
      failure: { variant: 'ROME+Random-40%', checkpoint: 20, error: 'ROME: v* did not converge' },
      truncated: true,
    });
    const other = join(dir, 'other-run');
    writeSyntheticRun(other, { model: 'huggyllama/llama-7b', checkpoints: [2, 4, 6, 8, 10], seed: 11, heatmaps: false });
    for (const compare of [[], [other]]) {
      const r = await buildReport(run, { format: 'html', compare, modes: ['paper', 'clean'] });
      const { page, errors, requests } = await open(r.content);
      const charts = await checkCharts(page);
      assert.deepEqual(
        charts.map((c) => c.id),
        ['downstream-paper', 'downstream-clean', 'comparison-paper', 'comparison-clean', 'editing', 'weights'],
      );
      for (const c of charts) {
        assert.equal(c.svgs, 1, `${c.id}: one svg`);
        assert.ok(c.marks > 0, `${c.id}: data marks drawn (${c.marks})`);
        assert.ok(c.width > 100 && c.height > 100, `${c.id}: rendered ${c.width}×${c.height}`);
      }
      const images = await page.$$eval('figure.heatmap img', (imgs) =>
        imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth),
      );
      assert.equal(images.length, 4);
      assert.ok(
        images.every((w) => w > 0),
        'heat maps decode',
      );
      // drawn at their aspect ratio, the colour scale right under the image
      const boxes = await heatmapBoxes(page);
      for (const b of boxes) {
        assert.ok(Math.abs(b.w / b.h - b.nw / b.nh) < 0.05, `heat map ${b.nw}×${b.nh} drawn ${b.w}×${b.h}`);
        assert.ok(b.w <= 260 && b.h <= 320, `heat map within its box: ${b.w}×${b.h}`);
        assert.ok(b.gap >= 0 && b.gap < 10, `colour scale right under the heat map (gap ${b.gap})`);
      }
      assert.deepEqual(errors, [], 'no console errors');
      assert.deepEqual(requests, [], 'nothing fetched from the network');
      const shot = join(dir, `report${compare.length ? '-compare' : ''}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10_000, 'screenshot written');
      await page.close();
    }
  });

  test(
    'documentation screenshot (LMEDIT_REPORT_SCREENSHOT)',
    { skip: !process.env['LMEDIT_REPORT_SCREENSHOT'] && 'set LMEDIT_REPORT_SCREENSHOT=docs/report.png to write it' },
    async () => {
      const run = join(dir, 'rect-gpt2xl');
      writeSyntheticRun(run);
      const r = await buildReport(run, { format: 'html' });
      const { page, errors } = await open(r.content);
      const out = process.env['LMEDIT_REPORT_SCREENSHOT']!;
      const height = await page.$eval('html', (e) => e.scrollHeight);
      await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: Math.min(1600, height) } });
      assert.deepEqual(errors, []);
      assert.ok(statSync(out).size < 500_000, `${out} is under 500 KB`);
      await page.close();
    },
  );
});
