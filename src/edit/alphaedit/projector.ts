/**
 * AlphaEdit's null-space projector P = Û Ûᵀ of a layer (../../../../shared/spec/rivals.md §1.2):
 * Û holds the eigenvectors of the preserved keys' second moment C whose eigenvalue is strictly
 * below τ (absolute). Kept as the basis Û [d_k, r] (P itself is never formed), computed once per
 * statistics tensor and τ, from C in float64.
 */
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';

/** Û per statistics tensor (the provider hands out the same C for a model and layer) and τ. */
const bases = new WeakMap<Tensor, Map<number, Tensor>>();

/**
 * The orthonormal basis Û [d_k, r] (float64) of the null space of C at threshold τ; `log`
 * hears r, and a warning when r is 0 (every edit empty) or d_k (P = I: no protection).
 */
export function nullSpaceBasis(C: Tensor, tau: number, log?: (msg: string) => void, what = 'C'): Tensor {
  let byTau = bases.get(C);
  const known = byTau?.get(tau);
  if (known) return known;
  const U = T.keep(
    T.noGrad(() =>
      T.tidy(() => {
        const { values, vectors } = T.eigh(T.cast(C, 'float64'));
        const lam = values.toArray();
        const r = lam.filter((x) => x < tau).length; // ascending: the first r
        return T.contiguous(T.narrow(vectors, 1, 0, r));
      }),
    ),
  );
  const dk = C.shape[0]!;
  const r = U.shape[1]!;
  log?.(`AlphaEdit: null space of ${what}: r = ${r} of ${dk} directions below τ = ${tau}`);
  const warn = (m: string): void => (log ? log(m) : console.warn(`lmedit: ${m}`));
  if (r === 0) warn(`AlphaEdit: warning: no eigenvalue of ${what} is below τ = ${tau}: P = 0 and the edit is empty`);
  if (r === dk) warn(`AlphaEdit: warning: every eigenvalue of ${what} is below τ = ${tau}: P = I (nothing is protected)`);
  if (!byTau) bases.set(C, (byTau = new Map()));
  byTau.set(tau, U);
  return U;
}
