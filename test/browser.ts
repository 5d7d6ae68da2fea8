/**
 * Test support for pages checked in a real browser: Debian's chromium (or LMEDIT_CHROMIUM),
 * driven headless through playwright-core, and the check that every chart rendered data marks.
 */
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';

const CANDIDATES = [process.env['LMEDIT_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
export const chromiumExecutable = CANDIDATES.find((p): p is string => !!p && existsSync(p));
export const chromiumSkip = chromiumExecutable
  ? false
  : 'chromium not found (apt-get install -y chromium, as .ci/run does, or set LMEDIT_CHROMIUM=/path/to/chrome)';

export interface ChartCheck {
  id: string;
  svgs: number;
  marks: number;
  width: number;
  height: number;
}

/** Per chart container: its SVGs, the data marks drawn (non-empty paths/rects/circles/lines inside role-mark groups), its size. */
export function checkCharts(page: Page): Promise<ChartCheck[]> {
  return page.$$eval('figure.chart', (figs) =>
    figs.map((f) => {
      const marks = [...f.querySelectorAll('svg g.role-mark:not(.mark-group) > :is(path, rect, circle, line)')].filter((el) => {
        if (el.tagName.toLowerCase() !== 'path') return true;
        const d = el.getAttribute('d') ?? '';
        return d.length > 0 && !/^M0,0h0v0h0Z$/.test(d);
      });
      const svg = f.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      return {
        id: f.getAttribute('data-chart') ?? '',
        svgs: f.querySelectorAll('svg').length,
        marks: marks.length,
        width: box?.width ?? 0,
        height: box?.height ?? 0,
      };
    }),
  );
}

/** Each heat map figure: the image's drawn and natural size, and the gap down to its colour scale. */
export function heatmapBoxes(page: Page): Promise<{ w: number; h: number; nw: number; nh: number; gap: number }[]> {
  return page.$$eval('figure.heatmap', (figs) =>
    figs.map((f) => {
      const img = f.querySelector('img') as unknown as {
        naturalWidth: number;
        naturalHeight: number;
        getBoundingClientRect(): { width: number; height: number; bottom: number };
      };
      const r = img.getBoundingClientRect();
      const scale = f.querySelector('.scale')!.getBoundingClientRect();
      return { w: r.width, h: r.height, nw: img.naturalWidth, nh: img.naturalHeight, gap: scale.top - r.bottom };
    }),
  );
}
