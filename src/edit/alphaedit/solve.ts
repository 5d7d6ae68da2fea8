/**
 * AlphaEdit's closed form at one layer (rivals.md §1.1), as G with ΔW = R Gᵀ:
 *   X = [P (K Kᵀ + Ĉ) + α I]⁻¹ P K Rᵀ,  ΔW = Xᵀ,  so G = [P A + α I]⁻¹ P K.
 * Default (float64): the equivalent r×r SPD form G = Û (Ûᵀ A Û + α I_r)⁻¹ Ûᵀ K, with
 * Ûᵀ A Û = (ÛᵀK)(ÛᵀK)ᵀ + (ÛᵀK_p)(ÛᵀK_p)ᵀ from the keys K_p of earlier edits (Ĉ = K_p K_pᵀ).
 * `solve_dtype: float32` is the reference's general LU solve of the d_k×d_k system in float32.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { LayerSolve } from '../memit/index.js';

export interface AlphaEditSolveOptions {
  /** α (`L2`) */
  alpha: number;
  solveDtype: 'float64' | 'float32';
  /** Û [d_k, r] of the layer */
  basis: (at: { index: number; moduleName: string; C: Tensor }) => Tensor;
  /** keys of earlier edits at the layer [N, d_k] (float64), or null */
  previousKeys: (moduleName: string) => Tensor | null;
}

export function alphaEditSolve(o: AlphaEditSolveOptions): LayerSolve {
  return ({ index, moduleName, K, C }) => {
    const U = o.basis({ index, moduleName, C });
    const Kp = o.previousKeys(moduleName);
    return T.noGrad(() =>
      T.tidy(() => (o.solveDtype === 'float32' ? referenceSolve(U, K, Kp, o.alpha) : projectedSolve(U, K, Kp, o.alpha))),
    );
  };
}

/** G = Û (Ûᵀ A Û + α I)⁻¹ Ûᵀ K in float64. */
function projectedSolve(U: Tensor, K: Tensor, Kp: Tensor | null, alpha: number): Tensor {
  const r = U.shape[1]!;
  const n = K.shape[1]!;
  if (r === 0) return T.zeros([K.shape[0]!, n], 'float64');
  const Ut = T.transpose(U);
  const B = T.matmul(Ut, K); // [r, n]
  let M = T.add(T.matmul(B, T.transpose(B)), T.mul(T.eye(r, 'float64'), alpha));
  if (Kp) {
    const Bp = T.matmul(Ut, T.transpose(Kp)); // [r, N]
    M = T.add(M, T.matmul(Bp, T.transpose(Bp)));
  }
  return T.matmul(U, T.solveSPD(M, T.contiguous(B)));
}

/** The reference: P = Û Ûᵀ, M = P(K Kᵀ + Ĉ) + α I, G = M⁻¹ P K by LU, all in float32. */
function referenceSolve(U: Tensor, K: Tensor, Kp: Tensor | null, alpha: number): Tensor {
  const f = (t: Tensor): Tensor => T.cast(t, 'float32');
  const P = T.matmul(f(U), T.transpose(f(U)));
  const K32 = f(K);
  let A = T.matmul(K32, T.transpose(K32));
  if (Kp) A = T.add(A, T.matmul(T.transpose(f(Kp)), f(Kp)));
  const M = T.add(T.matmul(P, A), T.mul(T.eye(P.shape[0]!, 'float32'), alpha));
  return T.cast(T.solve(M, T.contiguous(T.matmul(P, K32))), 'float64');
}
