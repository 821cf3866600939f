/**
 * Test helpers for the part-B op definitions: build a one-node graph with GraphBuilder, infer its
 * result types with the op's own shape rule, run it with the reference interpreter, and check that
 * the run-time shapes agree with the inferred ones (so every test also exercises the shape rule).
 */
import { expect } from 'vitest';
import { fail } from '../../base/diagnostics.js';
import { GraphBuilder, newGraph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { findOp, type InferCtx, resolveAttrs } from '../../ir/optable.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Attrs, DType, Graph, Node, Tensor, TensorType, Value } from '../../ir/types.js';
import '../../ir/ops/index.js';

/** Marks an operand as a graph constant (visible to the shape rule through constInput). */
export interface ConstOperand {
  konst: Tensor;
}
export const k = (t: Tensor): ConstOperand => ({ konst: t });
/** An operand given only by type (a graph input with possibly symbolic dims), for shape-rule tests. */
export interface TypeOperand {
  type: TensorType;
}
export type Operand = Tensor | ConstOperand | TypeOperand | null;

let fresh = 0;

/** Builds the InferCtx a shape-inference driver would give the node. */
export function inferCtx(node: Node): InferCtx {
  const def = findOp(node.op)!;
  return {
    node,
    inputs: node.inputs.map((v) => v?.type ?? null),
    attrs: resolveAttrs(def, node),
    constInput: (i) => node.inputs[i]?.const,
    freshDim: (hint) => `${hint ?? 'd'}_${++fresh}`,
    error: (code, message) => fail(code, message, { kind: 'node', node: node.name, opType: node.op }),
  };
}

/** Result types of a node by its op's shape rule. */
export function inferNode(node: Node): TensorType[] {
  return findOp(node.op)!.infer(inferCtx(node));
}

export const f32 = (shape: number[], data: ArrayLike<number>): Tensor => makeTensor('f32', shape, data);
export const i64 = (shape: number[], data: ArrayLike<number>): Tensor => makeTensor('i64', shape, data);
export const t = (dtype: DType, shape: number[], data: ArrayLike<number>): Tensor => makeTensor(dtype, shape, data);

/** One-node graph for `op` over `operands`; returns the graph, its node and runtime inputs by name. */
export function buildNode(
  op: string,
  operands: Operand[],
  attrs: Attrs = {},
  nOut = 1,
): { graph: Graph; node: Node; feeds: Record<string, Tensor> } {
  const graph = newGraph('test');
  const b = new GraphBuilder(graph);
  const feeds: Record<string, Tensor> = {};
  const ins: (Value | null)[] = operands.map((o, i) => {
    if (o === null) return null;
    if ('konst' in o) return b.constant(`c${i}`, o.konst);
    if (!('data' in o)) return b.input(`x${i}`, o.type);
    const v = b.input(`x${i}`, { dtype: o.dtype, shape: [...o.shape] });
    feeds[v.name] = o;
    return v;
  });
  const placeholder: TensorType[] = Array.from({ length: nOut }, () => ({ dtype: 'f32', shape: [] }));
  const node = b.node(op, ins, attrs, placeholder);
  const types = inferNode(node);
  node.outputs.forEach((v, i) => (v.type = types[i]!));
  graph.outputs = [...node.outputs];
  return { graph, node, feeds };
}

/** Infers, runs, and checks run-time dtype/shape against the inferred type (known dims must match). */
export function runOp(op: string, operands: Operand[], attrs: Attrs = {}, nOut = 1): { types: TensorType[]; outs: Tensor[] } {
  const { graph, node, feeds } = buildNode(op, operands, attrs, nOut);
  const outs = interpret(graph, feeds);
  const types = node.outputs.map((v) => v.type);
  outs.forEach((o, i) => {
    expect(o.dtype).toBe(types[i]!.dtype);
    expect(o.shape.length).toBe(types[i]!.shape.length);
    types[i]!.shape.forEach((d, j) => {
      if (typeof d === 'number') expect(o.shape[j]).toBe(d);
    });
  });
  return { types, outs };
}

/** Single-output convenience: the result tensor. */
export function run1(op: string, operands: Operand[], attrs: Attrs = {}): Tensor {
  return runOp(op, operands, attrs).outs[0]!;
}

/** Deterministic uniform [0, 1) generator (LCG): tests must be reproducible. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

export function randomF32(shape: number[], r: () => number, lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return makeTensor(
    'f32',
    shape,
    Float32Array.from({ length: n }, () => lo + (hi - lo) * r()),
  );
}

/** Max |a - b| over two equal-length arrays, and max |b| (the scale the tolerance is relative to). */
export function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; ref: number } {
  expect(a.length).toBe(b.length);
  let err = 0,
    ref = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    ref = Math.max(ref, Math.abs(b[i]!));
  }
  return { err, ref };
}

/** Expects a LutcError carrying diagnostic `code`. */
export function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    const d = (e as { diagnostics?: { code: string }[] }).diagnostics;
    expect(
      d?.map((x) => x.code),
      String(e),
    ).toContain(code);
    return;
  }
  expect.fail(`expected error ${code}, nothing was thrown`);
}
