/**
 * EMMET's closed form at one layer (../../../../shared/spec/rivals.md §2), as G with
 * ΔW = R Gᵀ (MEMIT's pipeline supplies K and R):
 *   C̃ = w·C + λ_u I,   D₀ = Kᵀ C̃⁻¹ K,   D = D₀ + λ_e I,   ΔW = R D⁻¹ Kᵀ C̃⁻¹
 * With λ_e > 0 the push-through identity gives ΔW = R Kᵀ (λ_e C̃ + K Kᵀ)⁻¹: MEMIT's form, one SPD
 * solve, no inverse of C (the default). With λ_e = 0 the constraint ΔW K = R holds exactly.
 * `explicit_inverse` reproduces the reference's explicit fp64 inverses.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { solveSystem, type LayerSolve } from '../memit/index.js';

export interface EmmetSolveOptions {
  /** w: mom2_update_weight */
  weight: number;
  /** λ_e, already 0 where the preset adds none (UM: a single edit) */
  lambda: number;
  /** λ_u: the ‖ΔW‖_F penalty folded into C̃ */
  normLambda: number;
  explicitInverse: boolean;
  log?: (msg: string) => void;
}

/** C̃ = w·C + λ_u I in float64. */
function preservation(C: Tensor, o: EmmetSolveOptions): Tensor {
  const wc = T.mul(T.cast(C, 'float64'), o.weight);
  return o.normLambda === 0 ? wc : T.add(wc, T.mul(T.eye(C.shape[0]!, 'float64'), o.normLambda));
}

/** The Moore–Penrose inverse of a square matrix (the reference's fallback when its inverse raises). */
export function pinv(A: Tensor): Tensor {
  return T.tidy(() => {
    const { u, s, vt } = T.svd(A);
    const sv = s.toArray();
    const tol = Math.max(...A.shape) * (sv[0] ?? 0) * 2.220446049250313e-16;
    const inv = T.tensor(
      sv.map((x) => (x > tol ? 1 / x : 0)),
      [sv.length],
      'float64',
    );
    return T.matmul(T.mul(T.transpose(vt), T.reshape(inv, [1, sv.length])), T.transpose(u));
  });
}

/** (A)⁻¹ B, falling back to the pseudo-inverse when A is singular. */
function solveOrPinv(A: Tensor, B: Tensor, what: string, log?: (msg: string) => void): Tensor {
  try {
    return T.solve(A, B);
  } catch {
    log?.(`EMMET: ${what} is singular; using its pseudo-inverse`);
    return T.matmul(pinv(A), B);
  }
}

export function emmetSolve(o: EmmetSolveOptions): LayerSolve {
  return ({ K, C }) =>
    T.tidy(() => {
      const Ct = preservation(C, o);
      const n = K.shape[1]!;
      if (o.explicitInverse) {
        const Ci = T.inverse(Ct);
        const D = T.add(T.matmul(T.matmul(T.transpose(K), Ci), K), T.mul(T.eye(n, 'float64'), o.lambda));
        let Di: Tensor;
        try {
          Di = T.inverse(D);
        } catch {
          o.log?.('EMMET: D is singular; using its pseudo-inverse');
          Di = pinv(D);
        }
        return T.matmul(T.matmul(Ci, K), Di); // (D⁻¹ Kᵀ C̃⁻¹)ᵀ, D symmetric
      }
      if (o.lambda > 0) return solveSystem(T.add(T.mul(Ct, o.lambda), T.matmul(K, T.transpose(K))), K);
      const Y = solveSystem(Ct, K); // C̃⁻¹ K [d_k, n]
      const D0 = T.matmul(T.transpose(K), Y); // [n, n]
      return T.transpose(solveOrPinv(D0, T.contiguous(T.transpose(Y)), 'D₀ = Kᵀ C̃⁻¹ K', o.log)); // Y D₀⁻¹
    });
}
