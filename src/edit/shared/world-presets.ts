/**
 * Presets for world models (src/world: the built-in model organism and anything `lmedit train
 * --world` builds): LLaMA-architecture models of 2 to 4 blocks, keyed by depth because the edited
 * layers are. The values were chosen on the default and quick world models (src/edit/README.md,
 * "World-model presets").
 */
import type { CausalLM } from '../../models/types.js';

/** Depths that have world presets. */
export const WORLD_PRESET_DEPTHS: readonly number[] = [2, 3, 4];

/** A world model's preset key: 'world-l2', 'world-l4', … */
export function worldPresetKey(model: Pick<CausalLM, 'config'>): string {
  return `world-l${model.config.numLayers}`;
}

/** One preset per depth, made by `make(numLayers)`. */
export function worldPresets<H>(make: (numLayers: number) => H): Record<string, H> {
  return Object.fromEntries(WORLD_PRESET_DEPTHS.map((L) => [`world-l${L}`, make(L)]));
}
