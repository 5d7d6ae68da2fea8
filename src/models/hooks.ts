/**
 * Hook points by module name — the basis of every editing method (after ROME's nethook).
 * Model files run each sub-module through `hook(trace, name, input, fn)` (inside their
 * linear/norm/attention helpers, so each name is written once); a Trace can then
 *  - retain the input and/or output of named modules (ROME's key = input of mlp.c_proj),
 *  - edit a module's output (add ROME's delta at the subject's last token; restore a clean
 *    state in causal tracing) with gradients flowing through the edit,
 *  - stop the forward pass after a module when only early activations are needed.
 * Module names are the Hugging Face module paths (`transformer.h.17.mlp.c_proj`,
 * `model.layers.5.mlp.down_proj`), so EasyEdit-style templates resolve verbatim.
 */
import { Tensor, keep } from '../tensor/index.js';

/** Edit function: receives the module's output (and its input) and returns the replacement. */
export type OutputEdit = (output: Tensor, input: Tensor, name: string) => Tensor;

export interface TraceOptions {
  /** Module names whose input to keep (tensors stay valid until the Trace is disposed). */
  retainInput?: readonly string[];
  /** Module names whose output to keep. */
  retainOutput?: readonly string[];
  /** Output edits by module name, applied in the forward pass. */
  edit?: Readonly<Record<string, OutputEdit>>;
  /** Stop the forward right after this module ran (its retained values are available). */
  stopAfter?: string;
}

/** Thrown inside a forward pass to stop it after `stopAfter`; caught by the model. */
export class StopForward extends Error {
  constructor(readonly module: string) {
    super(`forward stopped after ${module}`);
  }
}

/**
 * Records and edits activations at named modules during one or more forward passes.
 * @example
 * using tr = new Trace({ retainInput: ['transformer.h.17.mlp.c_proj'] });
 * model.forward({ ids, trace: tr });
 * const keys = tr.input('transformer.h.17.mlp.c_proj'); // [B, T, 4D], freed with tr
 */
export class Trace {
  readonly inputs = new Map<string, Tensor>();
  readonly outputs = new Map<string, Tensor>();
  private readonly wantIn: Set<string>;
  private readonly wantOut: Set<string>;
  private readonly seen = new Set<string>();

  constructor(readonly options: TraceOptions = {}) {
    this.wantIn = new Set(options.retainInput ?? []);
    this.wantOut = new Set(options.retainOutput ?? []);
  }

  /** Run `fn(input)` as module `name`, recording/editing as configured. */
  module(name: string, input: Tensor, fn: (x: Tensor) => Tensor): Tensor {
    this.seen.add(name);
    // retained tensors belong to the trace: no enclosing tidy() may free them
    if (this.wantIn.has(name)) this.retain(this.inputs, name, input);
    let out = fn(input);
    const edit = this.options.edit?.[name];
    if (edit) out = edit(out, input, name);
    if (this.wantOut.has(name)) this.retain(this.outputs, name, out);
    if (this.options.stopAfter === name) throw new StopForward(name);
    return out;
  }

  private retain(map: Map<string, Tensor>, name: string, t: Tensor): void {
    map.get(name)?.dispose();
    // our own view: the model may free its tensor as soon as the next block has run
    const v = new Tensor(t.box, t.shape, t.strides, t.offset);
    v.node = t.node;
    v.requiresGrad = t.requiresGrad;
    map.set(name, keep(v));
  }

  /** Free every retained tensor (call when done with the values). */
  dispose(): void {
    for (const t of this.inputs.values()) t.dispose();
    for (const t of this.outputs.values()) t.dispose();
    this.inputs.clear();
    this.outputs.clear();
  }

  /** `using tr = new Trace(...)` frees the retained tensors at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A retained input; a clear error when the module never ran or was not requested. */
  input(name: string): Tensor {
    return this.get(this.inputs, name, 'input', this.wantIn);
  }

  /** A retained output. */
  output(name: string): Tensor {
    return this.get(this.outputs, name, 'output', this.wantOut);
  }

  private get(map: Map<string, Tensor>, name: string, what: string, wanted: Set<string>): Tensor {
    const t = map.get(name);
    if (t) return t;
    if (!wanted.has(name)) throw new Error(`Trace: the ${what} of "${name}" was not requested`);
    throw new Error(`Trace: module "${name}" did not run${this.seen.size ? '' : ' (no forward pass yet)'}`);
  }

  /**
   * Check that every requested module name exists in the model's hook-point list, so a typo
   * ("mlp.cproj") fails before a long forward.
   */
  validate(hookPoints: ReadonlySet<string>): void {
    const names = [
      ...this.wantIn,
      ...this.wantOut,
      ...Object.keys(this.options.edit ?? {}),
      ...(this.options.stopAfter ? [this.options.stopAfter] : []),
    ];
    for (const n of names) {
      if (!hookPoints.has(n)) {
        const near = [...hookPoints].filter((h) => h.split('.').pop() === n.split('.').pop()).slice(0, 3);
        throw new Error(`Trace: unknown module "${n}"${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}`);
      }
    }
  }
}

/** Run a sub-module through the trace when there is one. */
export function hook(trace: Trace | undefined, name: string, x: Tensor, fn: (x: Tensor) => Tensor): Tensor {
  return trace ? trace.module(name, x, fn) : fn(x);
}
