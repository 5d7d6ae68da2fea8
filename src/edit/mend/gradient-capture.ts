/**
 * Step 2 of MEND (README.md, "The method"): one forward/backward of the edit loss that captures, for
 * every edited linear layer, its input x_t and the gradient δ_t of the loss w.r.t. its output,
 * per token (∇_W = Σ_t δ_t x_tᵀ). Rows where x or δ is all zero (padding, tokens after the
 * last label) are dropped, as MEND does. x and δ come out as plain inputs: no gradient flows
 * back through them (MEND's hooks detach both), so the meta-gradient has no second-order terms.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { Trace } from '../../models/hooks.js';
import type { CausalLM } from '../../models/types.js';
import { forwardBatch, rowNll, targetNll, type LabelledBatch } from './inputs.js';

/** Captured rows of one layer: x [N, din] and δ [N, dout]. */
export interface Factors {
  x: Tensor;
  delta: Tensor;
}

/** What one capture pass returns; the caller disposes it. */
export interface Capture {
  /** the edit loss (mean NLL of the scored tokens) */
  loss: number;
  /** per-row mean NLL before the edit */
  rowNll: number[];
  /** by module name */
  factors: Map<string, Factors>;
  dispose(): void;
}

/** A hooked module and its output width. */
export interface CaptureTarget {
  module: string;
  dout: number;
}

/**
 * Run the edit batch once and return x and δ per module. δ is the gradient w.r.t. a zero
 * tensor added to the module's output, which equals ∂L/∂(output) token by token.
 * @example
 * const cap = captureFactors(model, batch, [{ module: 'transformer.h.3.mlp.c_fc', dout: 256 }]);
 * const { x, delta } = cap.factors.get('transformer.h.3.mlp.c_fc')!; // [N, 64], [N, 256]
 */
export function captureFactors(model: CausalLM, batch: LabelledBatch, targets: readonly CaptureTarget[]): Capture {
  const [B, L] = batch.ids.shape as [number, number];
  const dt = targets.some((t) => model.param(`${t.module}.weight`).dtype === 'float64') ? 'float64' : 'float32';
  const zeros = targets.map((t) => T.keep(T.zeros([B, L, t.dout], dt))); // [B, L, dout]
  const edits = Object.fromEntries(targets.map((t, i) => [t.module, (out: Tensor) => T.add(out, zeros[i]!)]));
  const trace = new Trace({ retainInput: targets.map((t) => t.module), edit: edits });
  let rows: number[] = [];
  try {
    const { value, grads } = T.valueAndGrad(() => {
      const logits = forwardBatch(model, batch, trace); // [B, L, V]
      rows = rowNll(logits, batch);
      return targetNll(logits, batch);
    }, zeros);
    const loss = value.item();
    value.dispose();
    const factors = T.noGrad(() =>
      T.tidy(() => {
        const out = new Map<string, Factors>();
        targets.forEach((t, i) => {
          const x = T.detach(trace.input(t.module)); // [B, L, din]
          const din = x.shape[2]!;
          const x2 = T.reshape(T.cast(x, dt), [B * L, din]); // [B·L, din]
          const d2 = T.reshape(grads[i]!, [B * L, t.dout]); // [B·L, dout]
          const keep = T.tensor(nonZeroRows(x2, d2), undefined, 'int32');
          out.set(t.module, { x: T.keep(T.indexSelect(x2, keep)), delta: T.keep(T.indexSelect(d2, keep)) }); // [N, din], [N, dout]
        });
        grads.forEach((g) => g.dispose());
        return out;
      }),
    );
    return {
      loss,
      rowNll: rows,
      factors,
      dispose: () => {
        for (const f of factors.values()) {
          f.x.dispose();
          f.delta.dispose();
        }
      },
    };
  } finally {
    trace.dispose();
    zeros.forEach((z) => z.dispose());
  }
}

/** Indices of rows where both x and δ have a nonzero entry. */
function nonZeroRows(x: Tensor, d: Tensor): number[] {
  const rows = x.shape[0]!;
  const nz = (t: Tensor): boolean[] => {
    const v = t.toArray();
    const w = t.shape[1]!;
    return Array.from({ length: rows }, (_, r) => {
      for (let j = 0; j < w; j++) if (v[r * w + j] !== 0) return true;
      return false;
    });
  };
  const a = nz(x);
  const b = nz(d);
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (a[r] && b[r]) out.push(r);
  return out;
}
