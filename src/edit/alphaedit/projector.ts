/**
 * AlphaEdit's null-space projector P = Û Ûᵀ of a layer (../../../../shared/spec/rivals.md §1.2):
 * Û holds the eigenvectors of the preserved keys' second moment C whose eigenvalue is strictly
 * below τ (absolute). Kept as the basis Û [d_k, r] (P itself is never formed), computed once per
 * statistics tensor and τ, from C in float64, and cached on disk beside the statistics under the
 * sha256 of C's bytes and τ (so another model, layer, corpus or budget never shares it).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { loadSafetensors, saveSafetensors } from '../../io/safetensors.js';

/** Û per statistics tensor (the provider hands out the same C for a model and layer) and τ. */
const bases = new WeakMap<Tensor, Map<number, Tensor>>();

/**
 * The orthonormal basis Û [d_k, r] (float64) of the null space of C at threshold τ; `log`
 * hears r, and a warning when r is 0 (every edit empty) or d_k (P = I: no protection).
 */
export function nullSpaceBasis(
  C: Tensor,
  tau: number,
  log?: (msg: string) => void,
  what = 'C',
  cacheDir: string | false = false,
): Tensor {
  let byTau = bases.get(C);
  const known = byTau?.get(tau);
  if (known) return known;
  const file = cacheDir ? join(cacheDir, `alphaedit-nullspace-${basisKey(C, tau)}.safetensors`) : null;
  const U =
    (file && readBasis(file, C.shape[0]!, log)) ||
    T.keep(
      T.noGrad(() =>
        T.tidy(() => {
          const { values, vectors } = T.eigh(T.cast(C, 'float64'));
          const lam = values.toArray();
          const r = lam.filter((x) => x < tau).length; // ascending: the first r
          return T.contiguous(T.narrow(vectors, 1, 0, r));
        }),
      ),
    );
  if (file && !existsSync(file)) writeBasis(file, U, tau);
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

/** sha256 of C's values (as float64) and τ: the cache key of a basis. */
function basisKey(C: Tensor, tau: number): string {
  return T.noGrad(() =>
    T.tidy(() => {
      const c = T.contiguous(T.cast(C, 'float64'));
      const data = c.storage;
      const h = createHash('sha256');
      h.update(`${C.shape.join('x')}:${tau}:`);
      h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return h.digest('hex').slice(0, 24);
    }),
  );
}

/** A cached basis, or null (absent, or unreadable: then it is removed and recomputed). */
function readBasis(file: string, dk: number, log?: (msg: string) => void): Tensor | null {
  if (!existsSync(file)) return null;
  try {
    const { tensors } = loadSafetensors(file, { dtype: 'keep' });
    const U = tensors.get('basis');
    if (!U || U.dtype !== 'float64' || U.rank !== 2 || U.shape[0] !== dk) throw new Error('not a basis of this C');
    for (const [k, t] of tensors) if (k !== 'basis') t.dispose();
    return T.keep(U);
  } catch (e) {
    log?.(`AlphaEdit: ${file} is unreadable (${(e as Error).message}); recomputing it`);
    rmSync(file, { force: true });
    return null;
  }
}

function writeBasis(file: string, U: Tensor, tau: number): void {
  mkdirSync(join(file, '..'), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  saveSafetensors(tmp, { basis: U }, { format: 'lmedit-alphaedit-nullspace-v1', tau: String(tau), r: String(U.shape[1]) });
  renameSync(tmp, file);
}
