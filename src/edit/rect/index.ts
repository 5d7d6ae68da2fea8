/**
 * @module edit/rect — RECT (Gu et al., EMNLP 2024), its Random-k / PCA-k baselines as ΔW
 * transforms, and the weight-change analysis (distances, relative-change percentiles, heat maps).
 */
export { rect, rectCounts, type RectResult, type RectStats } from './rect.js';
export { randomK, pcaPaper, pcaLowRank, type RandomKResult, type PcaKResult, type PcaMode, type PcaSolver } from './baselines.js';
export {
  makeDeltaTransform,
  type DeltaTransformOptions,
  type TransformRecord,
  type RecordingTransform,
  type RegulariserMode,
} from './transform.js';
export { orderStatistics, percentiles, type RankValue, type OrderStatistics } from './select.js';
export { forEachRatio, ratioStream, F64Reader, type ChangePair, type Float64Stream } from './stream.js';
export {
  weightChange,
  changeOfDeltas,
  WeightChangeTracker,
  DEFAULT_THRESHOLDS,
  deltaHeatmap,
  heatmapLevel,
  heatmapPng,
  heatmapCsv,
  writeHeatmap,
  type AnalysisOptions,
  type ChangeStats,
  type WeightChange,
  type NamedChange,
  type Heatmap,
  type HeatmapOptions,
} from './analysis.js';
export { colorOf, type Colormap } from './colormap.js';
