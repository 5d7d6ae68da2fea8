/**
 * KN step 2 (README.md, "The method"): coarse neurons of one prompt (score above a fraction of the maximum)
 * and the refinement over several prompts (neurons shared by more than p · #prompts sets).
 */

/** A neuron as the reference code lists it: [layer, index within d_ff]. */
export type Neuron = [layer: number, index: number];

export interface CoarseNeurons {
  neurons: Neuron[];
  /** max(S) · adaptive_threshold (float64, as Python computes it) */
  threshold: number;
  maxScore: number;
  /** min |S_li − threshold| over all neurons: how close the cut is to flipping one */
  closestToThreshold: number;
}

/**
 * Neurons with S_li > adaptive_threshold · max(S), in row-major (layer, index) order — PyTorch's
 * `torch.nonzero(scores > t)`; the comparison runs in float32 because a Python scalar does not
 * promote a float32 tensor.
 * @example coarseNeurons(Float32Array.of(1, 0.1, 0.5, 0.3), 2, 0.2).neurons // [[0, 0], [1, 0], [1, 1]]
 */
export function coarseNeurons(scores: Float32Array, width: number, adaptiveThreshold: number): CoarseNeurons {
  if (scores.length === 0 || scores.length % width !== 0)
    throw new Error(`KN: ${scores.length} scores do not fill rows of ${width}`);
  let maxScore = -Infinity;
  for (const s of scores) {
    if (Number.isNaN(s)) throw new Error('KN: an attribution score is NaN');
    if (s > maxScore) maxScore = s;
  }
  const threshold = maxScore * adaptiveThreshold;
  const cut = Math.fround(threshold);
  const neurons: Neuron[] = [];
  let closest = Infinity;
  for (let k = 0; k < scores.length; k++) {
    const s = scores[k]!;
    if (s > cut) neurons.push([Math.floor(k / width), k % width]);
    closest = Math.min(closest, Math.abs(s - threshold));
  }
  return { neurons, threshold, maxScore, closestToThreshold: closest };
}

/**
 * The reference `get_refined_neurons` tail: count each neuron over the prompts' coarse sets
 * (first-seen order); with `refine` keep those counted more than p · #prompts times, else all.
 * @example refineNeurons([[[0, 1]], [[0, 1], [2, 3]]], 0.5, true) // [[0, 1]]
 */
export function refineNeurons(coarse: readonly (readonly Neuron[])[], p: number, refine: boolean): Neuron[] {
  const counts = new Map<string, { n: Neuron; count: number }>();
  for (const set of coarse) {
    for (const [l, i] of set) {
      const key = `${l},${i}`;
      const e = counts.get(key);
      if (e) e.count++;
      else counts.set(key, { n: [l, i], count: 1 });
    }
  }
  const t = coarse.length * p;
  return [...counts.values()].filter((e) => !refine || e.count > t).map((e) => e.n);
}
