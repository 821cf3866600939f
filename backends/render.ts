/**
 * The one renderer interface and step dispatcher of the compiled backends (wasm, wgsl, c). A
 * backend's renderer is a table of op families: each family names the ops it renders and renders
 * one plan step of them into the backend's result (a wasm emitter, WGSL kernels, a C body).
 *
 * Invariants:
 * - The families of a renderer are disjoint: an op belongs to at most one family (`rendererOps`
 *   throws otherwise), so the op -> family lookup is unambiguous and the backend's SUPPORTED_OPS
 *   (= `rendererOps`) is exactly the set of ops it dispatches.
 * - `renderSteps` tries every step: an op without a family is one LUT5003 diagnostic with the same
 *   message on every target (`${target} target: op '${op}' is not supported`, located at the node),
 *   and the LutcError diagnostics of every step are collected in step order (all of them, not the
 *   first); any other exception is an internal error and propagates.
 */
import { type Diagnostic, diag, LutcError, nodeLoc } from '../base/diagnostics.js';
import type { PlanStep } from './model-plan.js';

/** The ops one renderer handles and how it renders a step of them (`ctx`: the backend's per-step context). */
export interface RenderFamily<C, R> {
  /** Family name, for messages and tests (e.g. 'elementwise'). */
  readonly name: string;
  readonly ops: ReadonlySet<string>;
  render(ctx: C, step: PlanStep): R;
}

/** A backend's renderer: its table of op families. */
export type Renderer<C, R> = readonly RenderFamily<C, R>[];

/** A family from a table op -> renderer of one step (each entry reads the step from its context). */
export function tableFamily<C, R>(name: string, table: Readonly<Record<string, (ctx: C) => R>>): RenderFamily<C, R> {
  return {
    name,
    ops: new Set(Object.keys(table)),
    render: (ctx, step) => {
      const f = table[step.node.op];
      if (!f) throw new Error(`internal: family '${name}' has no renderer for '${step.node.op}'`);
      return f(ctx);
    },
  };
}

/** The ops `r` renders, sorted (a backend's SUPPORTED_OPS). Throws when two families claim one op. */
export function rendererOps<C, R>(r: Renderer<C, R>): string[] {
  const owner = new Map<string, string>();
  for (const f of r)
    for (const op of f.ops) {
      const other = owner.get(op);
      if (other !== undefined) throw new Error(`internal: op '${op}' is in two render families ('${other}', '${f.name}')`);
      owner.set(op, f.name);
    }
  return [...owner.keys()].sort();
}

/** The family of `r` that renders `op`, if any. */
export function familyOf<C, R>(r: Renderer<C, R>, op: string): RenderFamily<C, R> | undefined {
  return r.find((f) => f.ops.has(op));
}

/** The message of LUT5003, the same for every target. */
export function unsupportedOpMessage(target: string, op: string): string {
  return `${target} target: op '${op}' is not supported`;
}

/** What `renderSteps` returns: one entry per step (undefined where it failed or was skipped). */
export interface RenderedSteps<R> {
  results: (R | undefined)[];
  diagnostics: Diagnostic[];
}

/**
 * Renders every step of `steps` with `renderer`. `render` is called with the step's family; it builds
 * the backend's per-step context, calls `family.render(ctx, step)` and wraps the result (returning
 * undefined skips the step without a diagnostic). `file` locates the diagnostics.
 */
export function renderSteps<C, R, T = R>(
  target: string,
  steps: readonly PlanStep[],
  renderer: Renderer<C, R>,
  render: (family: RenderFamily<C, R>, step: PlanStep, index: number) => T | undefined,
  file?: string,
): RenderedSteps<T> {
  const diagnostics: Diagnostic[] = [];
  const results = steps.map((step, i) => {
    const family = familyOf(renderer, step.node.op);
    if (!family) {
      diagnostics.push(diag('LUT5003', unsupportedOpMessage(target, step.node.op), nodeLoc(step.node, file)));
      return undefined;
    }
    try {
      return render(family, step, i);
    } catch (e) {
      if (!(e instanceof LutcError)) throw e;
      diagnostics.push(...e.diagnostics);
      return undefined;
    }
  });
  return { results, diagnostics };
}
