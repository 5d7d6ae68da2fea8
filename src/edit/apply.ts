/**
 * Applying weight deltas the same way for every method: an optional transform (RECT and its
 * baselines) on each ΔW before it is added, a NaN/Inf check that leaves the model untouched,
 * a bitwise snapshot of each weight the first time it changes, and an exact restore.
 */
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';
import type { CausalLM } from '../models/types.js';
import type { EditResult, RequestDiagnostics, Timings } from './types.js';

/**
 * Maps a raw ΔW (stored layout) of parameter `name` to the ΔW actually applied; `current` is
 * the weight it will be added to (already edited weights in sequential runs).
 */
export type DeltaTransform = (name: string, delta: Tensor, current: Tensor) => Tensor;

/**
 * Tracks the weights one edit changes, and owns them until `result()` hands them over:
 * disposing an editor that produced no result undoes its changes (so an exception anywhere in
 * a method leaves the model as it was), and a scratch editor is simply never asked for one.
 * @example
 * using ed = new WeightEditor(model, rect);
 * ed.add('transformer.h.17.mlp.c_proj.weight', deltaW);
 * return ed.result('ROME', diagnostics, timings, true); // kept: the EditResult owns the deltas now
 */
export class WeightEditor implements Disposable {
  private readonly saved = new Map<string, T.Snapshot>();
  /** accumulated applied ΔW per parameter (stored layout) */
  readonly deltas = new Map<string, Tensor>();
  private handedOver = false;

  constructor(
    private readonly model: CausalLM,
    private readonly transform?: DeltaTransform,
  ) {}

  /**
   * Transform, check and add ΔW to the parameter in place; returns the ΔW applied (owned by
   * this editor). Throws — with the model unchanged — on shape mismatch or NaN/Inf.
   */
  add(name: string, delta: Tensor): Tensor {
    const w = this.model.param(name);
    if (w.rank !== delta.rank || w.shape.some((d, i) => d !== delta.shape[i])) {
      throw new Error(`edit: ΔW for ${name} has shape [${delta.shape.join(', ')}], the weight is [${w.shape.join(', ')}]`);
    }
    T.assertFinite('edit', delta, `ΔW for ${name}`);
    const applied = T.noGrad(() => {
      const d = this.transform ? this.transform(name, delta, w) : delta;
      T.assertFinite('edit', d, `transformed ΔW for ${name}`);
      return d === delta ? T.clone(delta) : d;
    });
    T.keep(applied);
    if (!this.saved.has(name)) this.saved.set(name, T.snapshot(w));
    T.addInPlace(w, applied);
    const prev = this.deltas.get(name);
    if (prev) {
      const sum = T.keep(T.noGrad(() => T.add(prev, applied)));
      prev.dispose();
      applied.dispose();
      this.deltas.set(name, sum);
      return sum;
    }
    this.deltas.set(name, applied);
    return applied;
  }

  /** The weight before this editor touched it (a fresh tensor the caller owns). */
  original(name: string): Tensor {
    const w = this.model.param(name);
    const snap = this.saved.get(name);
    const c = T.keep(T.clone(w));
    if (snap) T.restore(c, snap);
    return c;
  }

  /** Write back every saved weight bit for bit. */
  restore(): void {
    for (const [name, snap] of this.saved) T.restore(this.model.param(name), snap);
  }

  /** Names of the parameters changed so far. */
  changed(): string[] {
    return [...this.saved.keys()];
  }

  /**
   * Hand the deltas over as an EditResult, which owns them from now on. With `apply` false the
   * weights are restored first.
   */
  result(method: string, requests: RequestDiagnostics[], timings: Timings, apply: boolean): EditResult {
    if (this.handedOver) throw new Error('WeightEditor: result() was already taken');
    this.handedOver = true;
    if (!apply) this.restore();
    let disposed = false;
    const dispose = (): void => {
      if (disposed) return;
      disposed = true;
      for (const d of this.deltas.values()) d.dispose();
      this.deltas.clear();
      this.saved.clear();
    };
    return {
      method,
      deltas: this.deltas,
      requests,
      timings,
      applied: apply,
      restore: () => this.restore(),
      dispose,
      [Symbol.dispose]: dispose,
    };
  }

  /** Without a result: undo every change and free the deltas. After result(): nothing to do. */
  [Symbol.dispose](): void {
    if (this.handedOver) return;
    this.handedOver = true;
    this.restore();
    for (const d of this.deltas.values()) d.dispose();
    this.deltas.clear();
    this.saved.clear();
  }
}
