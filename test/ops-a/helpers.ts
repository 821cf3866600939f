/**
 * Helpers for the part-A op tests: build a one-node graph with GraphBuilder, type it with the real
 * shape-inference driver (ir/infer.ts, folding off so the node survives), run it with the reference
 * interpreter, and check that run-time shapes/dtypes agree with the inferred ones, so every value
 * test also exercises the op's shape rule.
 */
import { expect } from 'vitest';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { inferGraph } from '../../ir/infer.js';
import { interpret } from '../../ir/interpret.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Attrs, Dim, DType, Tensor, TensorType } from '../../ir/types.js';
import '../../ir/ops/index.js';

/**
 * An operand: a run-time tensor (graph input), a constant, a type only (shape tests), a declared type
 * with the tensor fed at run time (symbolic inputs), or omitted.
 */
export type Operand = Tensor | { konst: Tensor } | { type: TensorType; value?: Tensor } | null;

export const T = (dtype: DType, shape: number[], data: ArrayLike<number>): Tensor => makeTensor(dtype, shape, data);
export const F = (shape: number[], data: ArrayLike<number>): Tensor => makeTensor('f32', shape, data);
export const ty = (dtype: DType, shape: Dim[]): { type: TensorType } => ({ type: { dtype, shape } });
export const konst = (t: Tensor): { konst: Tensor } => ({ konst: t });

function build(op: string, operands: Operand[], attrs: Attrs, nOut: number) {
  const graph = newGraph('t');
  const b = new GraphBuilder(graph);
  const feeds: Record<string, Tensor> = {};
  const ins = operands.map((o, i) => {
    if (o === null) return null;
    if ('konst' in o) return b.constant(`c${i}`, o.konst);
    if (!('data' in o)) {
      const v = b.input(`x${i}`, o.type);
      if (o.value) feeds[v.name] = o.value;
      return v;
    }
    const v = b.input(`x${i}`, { dtype: o.dtype, shape: [...o.shape] });
    feeds[v.name] = o;
    return v;
  });
  const placeholder: TensorType = { dtype: 'f32', shape: [] };
  const node = b.node(
    op,
    ins,
    attrs,
    Array.from({ length: nOut }, () => placeholder),
  );
  graph.outputs = [...node.outputs];
  inferGraph(graph, { fold: false });
  return { graph, node, feeds };
}

/** Result types by the op's shape rule (operands may be symbolic `ty(...)`). */
export function inferOp(op: string, operands: Operand[], attrs: Attrs = {}, nOut = 1): TensorType[] {
  return build(op, operands, attrs, nOut).node.outputs.map((v) => v.type);
}

/** Runs `op` and returns its results, after checking them against the inferred types. */
export function runOp(op: string, operands: Operand[], attrs: Attrs = {}, nOut = 1): Tensor[] {
  const { graph, node, feeds } = build(op, operands, attrs, nOut);
  const outs = interpret(graph, feeds);
  outs.forEach((o, i) => {
    const want = node.outputs[i]!.type;
    expect(o.dtype).toBe(want.dtype);
    expect(o.shape.length).toBe(want.shape.length);
    want.shape.forEach((d, j) => {
      if (typeof d === 'number') expect(o.shape[j]).toBe(d);
    });
    expect(o.data.length).toBe(o.shape.reduce((a, b) => a * b, 1));
  });
  return outs;
}

/** `runOp` for a single result, as a plain array of numbers. */
export function run1(op: string, operands: Operand[], attrs: Attrs = {}): number[] {
  return Array.from(runOp(op, operands, attrs)[0]!.data);
}

/**
 * Asserts |got - want| <= atol + rtol * |want| elementwise (NaN matches NaN); returns nothing.
 * Callers state why their tolerance is what it is.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol = 0): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w)) expect(g, `element ${i}`).toBeNaN();
    else if (!Number.isFinite(w)) expect(g, `element ${i}`).toBe(w);
    else expect(Math.abs(g - w), `element ${i}: got ${g}, want ${w}`).toBeLessThanOrEqual(atol + rtol * Math.abs(w));
  }
}

/** The LUT code of a thrown LutcError (fails the test when `f` does not throw one). */
export function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    const d = (e as { diagnostics?: { code: string; message: string }[] }).diagnostics;
    if (d?.[0]) return `${d[0].code}: ${d[0].message}`;
    throw e;
  }
  throw new Error('expected a LutcError, nothing was thrown');
}
