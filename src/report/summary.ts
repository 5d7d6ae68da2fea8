/**
 * The manifest summary of a run (model, commit, date, machine, study settings) as label/value
 * rows, for the head of every report format.
 */
import type { RunView } from './data.js';
import { PAPER_MODEL_LABELS } from './paper-values.js';

export type SummaryRow = [label: string, value: string];

function flat(o: Record<string, unknown> | undefined): string {
  if (!o) return '';
  return Object.entries(o)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ')
    .slice(0, 400);
}

function setting(r: RunView): string {
  const mode = r.data.manifest?.study?.mode;
  const batches = mode?.batch_sizes ?? [...new Set(r.series.flatMap((s) => s.batchSizes))].sort((a, b) => a - b);
  if (!r.sequential) return `Batch-Single, batch sizes ${batches.join(', ')}`;
  const name = batches.length === 1 && batches[0] === 1 ? 'Instance-Sequential' : `Batch-Sequential, batch ${batches.join(', ')}`;
  const cps = mode?.checkpoints?.length ? `, checkpoints ${mode.checkpoints.join(', ')}` : '';
  return `${name}${cps}`;
}

export function summaryRows(r: RunView): SummaryRow[] {
  const m = r.data.manifest;
  const st = m?.study;
  const rows: SummaryRow[] = [];
  const add = (label: string, value: string | undefined | null): void => {
    if (value) rows.push([label, value]);
  };
  add('study', st?.name);
  add('model', r.modelPath ? `${r.modelPath}${st?.model?.dtype ? ` (${st.model.dtype})` : ''}` : null);
  if (m?.model?.dir && m.model.dir !== r.modelPath) add('model directory', m.model.dir);
  add('model config sha256', m?.model?.config_sha256?.slice(0, 16));
  add(
    'lmedit',
    m?.lmedit ? `${m.lmedit.version ?? '?'}${m.lmedit.commit ? ` (commit ${m.lmedit.commit.slice(0, 10)})` : ''}` : null,
  );
  add('created', m?.created);
  add('machine', flat(m?.machine));
  add('backend', flat(m?.backend));
  add('setting', setting(r));
  add(
    'variants',
    st?.methods
      ?.map(
        (x) =>
          `${x.name} (${x.method}${x.rect ? `, ${x.rect.mode} keep ${x.rect.keep}` : ''}${x.prune ? `, PRUNE ${x.prune.restraint === 'linear' ? 'linear' : `log base ${Number(x.prune.base.toFixed(6))}`}` : ''})`,
      )
      .join('; ') ?? r.series.map((s) => s.variant).join('; '),
  );
  add(
    'tasks',
    st?.tasks
      ? `${st.tasks.names.join(', ')}${st.tasks.limit !== undefined ? `; ${st.tasks.limit} examples each` : '; all examples'}; scorer ${st.tasks.scorer}`
      : null,
  );
  add('edit data', st?.data ? `${st.data.file} [${st.data.begin}:${st.data.end ?? ''}:${st.data.step}]` : null);
  add('editing metrics', st?.metrics ? (st.metrics.enabled ? `on (${st.metrics.order})` : 'off') : null);
  if (st?.quirks) {
    const on = Object.entries(st.quirks)
      .filter(([, v]) => v === true)
      .map(([k]) => k);
    add('quirks', on.length ? on.join(', ') : 'none');
  }
  add('checkpoints finished', `${r.finished.size}${r.failures.length ? `; ${r.failures.length} failure(s)` : ''}`);
  add(
    'paper reference',
    r.paperModel
      ? `${PAPER_MODEL_LABELS[r.paperModel]}: the paper’s values are shown where method, setting and variant match`
      : 'none (the paper did not use this model)',
  );
  return rows;
}

/** Rows of several runs side by side: [label, value per run]. */
export function summaryGrid(runs: RunView[]): { columns: string[]; rows: string[][] } {
  const per = runs.map((r) => new Map(summaryRows(r)));
  const labels: string[] = [];
  for (const r of runs) for (const [l] of summaryRows(r)) if (!labels.includes(l)) labels.push(l);
  return { columns: ['', ...runs.map((r) => r.name)], rows: labels.map((l) => [l, ...per.map((p) => p.get(l) ?? '')]) };
}
