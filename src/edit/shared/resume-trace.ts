/**
 * A Trace that resumes a forward pass at a given block: blocks below it are skipped and the
 * block's output is replaced by a tensor the caller supplies (a cached residual stream plus
 * the edit). The v* and z optimisations use it so each step runs only the layers above the edit.
 */
import type { Tensor } from '../../tensor/index.js';
import { Trace, type TraceOptions } from '../../models/hooks.js';
import type { CausalLM } from '../../models/types.js';
import { moduleAt } from '../hparams.js';

/**
 * @example
 * const tr = new ResumeTrace(model, 5, () => T.add(cachedBlock5Out, edit));
 * model.forward({ ids, trace: tr, logits: 'none' }); // blocks 0..5 not computed
 */
export class ResumeTrace extends Trace {
  private readonly blockIndex = new Map<string, number>();

  /**
   * @param layer the block whose output `resumeWith()` replaces (blocks < layer are skipped)
   * @param output builds block `layer`'s output [B, T, D]; called once per forward and must
   *   return a fresh tensor (the forward may dispose it)
   */
  constructor(
    model: CausalLM,
    private readonly layer: number,
    private readonly resumeWith: () => Tensor,
    options: TraceOptions = {},
  ) {
    super(options);
    for (let i = 0; i <= layer; i++) this.blockIndex.set(moduleAt(model.arch.layerTemplate, i), i);
  }

  override module(name: string, input: Tensor, fn: (x: Tensor) => Tensor): Tensor {
    const i = this.blockIndex.get(name);
    if (i === undefined) return super.module(name, input, fn);
    // skipped blocks pass their input through; the resumed block yields the supplied output
    return super.module(name, input, i < this.layer ? (x) => x : () => this.resumeWith());
  }
}
