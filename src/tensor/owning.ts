/**
 * Result bundles that own their tensors: `using run = executeX(...)` frees everything the run
 * computed when the scope ends, instead of a hand-kept list of tensors at every exit.
 */

type Part = Disposable | null | undefined;

/**
 * `fields` plus a [Symbol.dispose] that disposes `parts` (tensors, other bundles, or arrays of
 * them, read when disposing so a bundle can own what is pushed to it later), once.
 * @example
 * return owning({ u, right, deltaW }, [u, right, deltaW]);
 */
export function owning<F extends object>(fields: F, parts: readonly (Part | readonly Part[])[]): F & Disposable {
  let done = false;
  return Object.assign(fields, {
    [Symbol.dispose](): void {
      if (done) return;
      done = true;
      for (const p of parts.flat()) p?.[Symbol.dispose]();
    },
  });
}
