/**
 * Tape-based reverse-mode autodiff. Ops call `record()` to attach a GradNode to their output
 * when grad mode is on and an input requires grad; `backward()` walks the nodes in reverse
 * topological order. The backward rules themselves sit next to each op's forward (ops/*.ts).
 */
import { Tensor, fmtShape, keep, tidy, type GradNode } from './tensor.js';

let gradEnabled = true;

/** Whether ops currently record the tape. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn without recording gradients (inference, in-place updates). */
export function noGrad<R>(fn: () => R): R {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Attach a tape node to `out` when any input needs a gradient. Returns out. */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: (g: Tensor) => (Tensor | null)[]): Tensor {
  if (!gradEnabled) return out;
  let needs = false;
  for (const t of inputs) if (t.requiresGrad) needs = true;
  if (!needs) return out;
  out.requiresGrad = true;
  const node: GradNode = { op, inputs, backward };
  out.node = node;
  return out;
}

/** A leaf view of t with no history (shares storage). */
export function detach(t: Tensor): Tensor {
  const d = new Tensor(t.box, t.shape, t.strides, t.offset);
  d.name = t.name;
  return d;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // iterative DFS: transformer graphs are deep enough to overflow a recursive one
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const c = inputs[i]!;
      if (c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

type AddFn = (a: Tensor, b: Tensor) => Tensor;
let addImpl: AddFn | null = null;
let onesLikeImpl: ((t: Tensor) => Tensor) | null = null;
let accumulateImpl: ((dst: Tensor, src: Tensor) => void) | null = null;

/** ops/ registers the ops backward itself needs (avoids an import cycle). */
export function registerAutogradOps(
  add: AddFn,
  onesLike: (t: Tensor) => Tensor,
  accumulate: (dst: Tensor, src: Tensor) => void,
): void {
  addImpl = add;
  onesLikeImpl = onesLike;
  accumulateImpl = accumulate;
}

/**
 * A gradient can be summed into in place when nothing else sees its storage: one reference,
 * covering the whole buffer, in the same dtype as the addend.
 */
function ownsStorage(g: Tensor, addend: Tensor): boolean {
  return g.box.refs === 1 && !g.box.external && g.isWholeStorage() && g.dtype === addend.dtype;
}

/**
 * Core of backward: gradients of `root` w.r.t. every tensor in its graph that requires grad.
 * `seed` defaults to ones (root must then be a scalar). Returns the gradients of `wanted`
 * (null when the root does not depend on it). Runs without recording.
 */
function runBackward(root: Tensor, seed: Tensor | null, wanted: readonly Tensor[]): Map<Tensor, Tensor> {
  if (!addImpl || !onesLikeImpl) throw new Error('autograd: ops not loaded (import from lmedit/tensor)');
  if (!root.requiresGrad) {
    throw new Error(`backward: the output ${fmtShape(root.shape)} does not depend on any tensor that requires grad`);
  }
  if (!seed && root.size !== 1) {
    throw new Error(`backward: output has shape ${fmtShape(root.shape)}; pass a seed gradient for non-scalar outputs`);
  }
  const add = addImpl;
  const onesLike = onesLikeImpl;
  const wantedSet = new Set(wanted);
  return noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, seed ?? onesLike(root));
    const result = new Map<Tensor, Tensor>();
    for (const t of topoOrder(root)) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (wantedSet.has(t)) {
        result.set(t, g);
        if (!t.node) continue;
      }
      const node = t.node;
      if (!node) {
        if (g !== seed) g.dispose();
        continue;
      }
      for (const inp of node.inputs) inp.assertAlive(`backward of ${node.op}`);
      const ins = node.backward(g);
      for (let i = 0; i < node.inputs.length; i++) {
        const inp = node.inputs[i]!;
        // a rule may pass g through unchanged; give each consumer its own reference
        const gi = ins[i] === g ? detach(g) : ins[i];
        if (!gi || !inp.requiresGrad) {
          gi?.dispose();
          continue;
        }
        if (gi.shape.length !== inp.shape.length || gi.shape.some((d, k) => d !== inp.shape[k])) {
          throw new Error(
            `autograd: backward of ${node.op} gave a gradient ${fmtShape(gi.shape)} for an input ${fmtShape(inp.shape)}`,
          );
        }
        const prev = grads.get(inp);
        if (prev && accumulateImpl && ownsStorage(prev, gi)) {
          // residual streams and tied weights get several gradients: sum without a new buffer
          accumulateImpl(prev, gi);
          gi.dispose();
        } else if (prev) {
          grads.set(inp, add(prev, gi));
          prev.dispose();
          gi.dispose();
        } else {
          grads.set(inp, gi);
        }
      }
      if (!wantedSet.has(t) && g !== seed) g.dispose();
    }
    for (const g of grads.values()) g.dispose();
    return result;
  });
}

function leavesOf(root: Tensor): Tensor[] {
  return topoOrder(root).filter((t) => !t.node && t.requiresGrad);
}

/**
 * Accumulate d root / d leaf into `leaf.grad` for every leaf with requiresGrad (PyTorch's
 * `loss.backward()`). Gradients are owned by their leaf (freed by `zeroGrad` or dispose).
 */
export function backward(root: Tensor, seed?: Tensor): void {
  const leaves = leavesOf(root);
  const grads = tidy(() => runBackward(root, seed ?? null, leaves));
  for (const [leaf, g] of grads) {
    keep(g);
    if (leaf.grad) {
      const sum = noGrad(() => addImpl!(leaf.grad!, g));
      keep(sum);
      leaf.grad.dispose();
      g.dispose();
      leaf.grad = sum;
    } else {
      leaf.grad = g;
    }
  }
}

/** Drop the accumulated gradients of these tensors. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}

/**
 * Functional gradient: evaluates `fn` (which must return a scalar) with `inputs` marked as
 * requiring grad, and returns its value and d value / d input for each input (zeros when
 * the value does not depend on it). Every intermediate of the forward and backward is freed;
 * `inputs` keep their previous requiresGrad and `.grad` is not touched.
 * @example const { value, grads: [gDelta] } = valueAndGrad(() => loss(delta), [delta]);
 */
export function valueAndGrad(fn: () => Tensor, inputs: readonly Tensor[]): { value: Tensor; grads: Tensor[] } {
  const prevFlags = inputs.map((t) => t.requiresGrad);
  // leaves with their own identity so nodes built by fn point at exactly these objects
  for (const t of inputs) t.requiresGrad = true;
  try {
    return tidy(() => {
      const value = gradEnabled
        ? fn()
        : (() => {
            throw new Error('valueAndGrad: called inside noGrad()');
          })();
      if (value.size !== 1) throw new Error(`valueAndGrad: fn must return a scalar, got ${fmtShape(value.shape)}`);
      const found = value.requiresGrad ? runBackward(value, null, inputs) : new Map<Tensor, Tensor>();
      const grads = inputs.map((t) => found.get(t) ?? zerosLikeVia(t));
      const v = detach(value);
      return { value: v, grads };
    });
  } finally {
    inputs.forEach((t, i) => (t.requiresGrad = prevFlags[i]!));
  }
}

function zerosLikeVia(t: Tensor): Tensor {
  return Tensor.zeros(t.shape, t.dtype === 'float64' ? 'float64' : 'float32');
}

/** Gradients only (see valueAndGrad). */
export function grad(fn: () => Tensor, inputs: readonly Tensor[]): Tensor[] {
  const { value, grads } = valueAndGrad(fn, inputs);
  value.dispose();
  return grads;
}
