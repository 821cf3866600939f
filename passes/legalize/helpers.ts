/**
 * Helpers shared by several legalize rule families (passes/legalize/*.ts): static shapes, dtype
 * predicates, the normalized `axis` attribute, the one-formula elementwise rule, and the folds of
 * nodes known at compile time (by the op's interpreter, or from input types alone). Pure functions of
 * the rewriter and values they are given; none changes the graph except through the rewriter.
 */
import { fail, LutcError, nodeLoc } from '../../base/diagnostics.js';
import { subgraphs } from '../../ir/graph.js';
import { inferCtxOf } from '../../ir/lut/build.js';
import { isFloatType } from '../../ir/ops/numeric.js';
import { normalizeAxis } from '../../ir/ops/util.js';
import { findOp, hasTrait } from '../../ir/optable.js';
import { isStaticShape } from '../../ir/tensor.js';
import type { DType, Value } from '../../ir/types.js';
import type { Rewriter, Rule, RuleResult } from './rewriter.js';

/** Static shape of `v`, or undefined when a dim is symbolic. */
export function staticShape(v: Value): number[] | undefined {
  return isStaticShape(v.type.shape) ? [...v.type.shape] : undefined;
}

export const isFloatV = (v: Value) => isFloatType(v.type.dtype);
export const signedInt = (dt: DType) => ['i4', 'i8', 'i16', 'i32', 'i64'].includes(dt);

/** The normalized `axis` attribute of a node over rank `rank`. */
export const axisOf = (r: Rewriter, rank: number) => normalizeAxis(r.attrs.axis as number, rank);

/** An elementwise rule from a one-line formula over x and the node's attributes. */
export function unary(summary: string, f: (r: Rewriter, x: Value) => Value | undefined): Rule {
  return {
    summary,
    rewrite: (r) => {
      const y = f(r, r.x());
      return y ? [y] : undefined;
    },
  };
}

/** Folds a node whose operands are all constants with its interpreter; its results, or undefined. */
export function foldConstants(r: Rewriter): RuleResult {
  const n = r.node;
  const def = findOp(n.op)!;
  if (hasTrait(def, 'no-fold') || subgraphs(n).length > 0 || !n.inputs.every((v) => !v || v.const)) return undefined;
  try {
    const outs = def.interp(
      n.inputs.map((v) => v?.const ?? null),
      {
        node: n,
        attrs: r.attrs,
        runGraph: () => fail('LUT4052', 'internal: no subgraph'),
        error: (code, message) => fail(code, message, nodeLoc(n)),
      },
    );
    return outs.map((t) => r.tensor(t));
  } catch (e) {
    if (e instanceof LutcError) return undefined;
    throw e;
  }
}

/** Results computed from input types alone (Shape, Size of static shapes). */
export function foldTypes(r: Rewriter): RuleResult {
  const def = findOp(r.node.op)!;
  const outs = def.foldFromTypes?.(inferCtxOf(r.node));
  return outs?.map((t) => r.tensor(t));
}
