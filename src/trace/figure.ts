/**
 * The causal-trace heat map as a figure (Vega-Lite rendered to SVG, like the report's charts):
 * prompt tokens down (subject tokens starred), layers across, colour = p(answer) with the cell
 * restored, from the corrupted probability up (the original's `vmin=low_score`), in the
 * original's colour per kind (purple states, green MLP, red attention).
 */
import type { TopLevelSpec } from 'vega-lite';
import { renderSvg } from '../report/charts.js';
import type { CausalTraceResult, KindTrace, TraceKind } from './causal-trace.js';

const SCHEME = { hidden: 'purples', mlp: 'greens', attn: 'reds' } as const satisfies Record<TraceKind, string>;
const NAME: Record<TraceKind, string> = { hidden: 'state', mlp: 'MLP', attn: 'Attn' };

/** Token labels of the rows: the decoded token (whitespace made visible), `*` on subject tokens. */
export function tokenLabels(result: Pick<CausalTraceResult, 'tokens' | 'subjectRange'>): string[] {
  const [b, e] = result.subjectRange;
  return result.tokens.map((t, i) => {
    const shown = JSON.stringify(t).slice(1, -1); // newlines and tabs as \n, \t
    return (shown === '' ? '∅' : shown) + (i >= b && i < e ? '*' : '');
  });
}

/** The Vega-Lite spec of one kind's heat map. */
export function traceFigureSpec(result: CausalTraceResult, trace: KindTrace): TopLevelSpec {
  const L = result.numLayers;
  const values: { pos: number; layer: number; p: number; effect: number }[] = [];
  trace.restored.forEach((row, pos) =>
    row.forEach((p, layer) => values.push({ pos, layer, p, effect: trace.indirectEffect[pos]![layer]! })),
  );
  const lo = result.corruptedProb;
  let hi = lo;
  for (const v of values) hi = Math.max(hi, v.p);
  if (!(hi > lo)) hi = lo + 1e-9; // a flat map (noise 0) still needs a scale
  const labels = tokenLabels(result);
  const name = NAME[trace.kind];
  const title =
    trace.kind === 'hidden'
      ? 'Impact of restoring state after corrupted input'
      : `Impact of restoring ${name} after corrupted input`;
  const xTitle =
    trace.kind === 'hidden'
      ? 'single restored layer'
      : `center of interval of ${trace.window} restored ${name} layers (clipped at the ends)`;
  const fmt = (x: number): string => (x >= 1e-3 ? x.toFixed(4) : x.toExponential(2));
  const answer = result.answer.text.trim() || JSON.stringify(result.answer.text);
  const cellW = Math.max(10, Math.min(28, Math.round(560 / L)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: title,
      subtitle: [
        `"${result.prompt}" → "${answer}"; subject "${result.subject}" (*)`,
        `p clean ${fmt(result.cleanProb)}, corrupted ${fmt(result.corruptedProb)}; ${result.samples} samples, noise σ ${result.noise.std.toPrecision(3)}, seed ${result.seed}`,
      ],
      subtitleFontSize: 10,
      anchor: 'start',
    },
    data: { values },
    width: cellW * L,
    height: 18 * result.tokens.length,
    mark: { type: 'rect' },
    encoding: {
      x: { field: 'layer', type: 'ordinal', title: xTitle, axis: { labelAngle: 0 } },
      y: {
        field: 'pos',
        type: 'ordinal',
        title: null,
        // rows by position (tokens may repeat), labelled with their text
        axis: { labelExpr: `${JSON.stringify(labels)}[datum.value]` },
      },
      color: {
        field: 'p',
        type: 'quantitative',
        title: `p(${answer})`,
        scale: { scheme: SCHEME[trace.kind], domain: [lo, hi], clamp: true },
      },
    },
  };
}

/** The figure as a standalone SVG document. */
export function traceFigureSvg(result: CausalTraceResult, trace: KindTrace): Promise<string> {
  return renderSvg(traceFigureSpec(result, trace));
}
