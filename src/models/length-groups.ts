/** Batching rows of different lengths with the least padding (ROME/MEMIT prompts, task prompts). */

/**
 * Split rows into batches of similar length: indices sorted by length, cut where the padding
 * saved outweighs the cost of one more batch (`overhead`, in padded token rows). Minimises
 * Σ_groups (rows · longest + overhead) exactly (dynamic programming over the sorted order), with
 * at most `maxRows` rows a group.
 * @example lengthGroups([7, 19, 13, 13, 19]) // [[0], [2, 3], [1, 4]] or coarser
 */
export function lengthGroups(lengths: readonly number[], overhead = 24, maxRows = Infinity): number[][] {
  if (!(maxRows >= 1)) throw new Error(`lengthGroups: maxRows must be >= 1, got ${maxRows}`);
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const n = order.length;
  const best = new Array<number>(n + 1).fill(Infinity);
  const cut = new Array<number>(n + 1).fill(0);
  best[0] = 0;
  for (let j = 1; j <= n; j++) {
    const longest = lengths[order[j - 1]!]!;
    for (let i = Math.max(0, j - maxRows); i < j; i++) {
      const c = best[i]! + (j - i) * longest + overhead;
      if (c < best[j]!) {
        best[j] = c;
        cut[j] = i;
      }
    }
  }
  const groups: number[][] = [];
  for (let j = n; j > 0; j = cut[j]!) groups.unshift(order.slice(cut[j]!, j).sort((a, b) => a - b));
  return groups;
}
