/**
 * Helpers the LUT passes use to create and rewrite nodes: a node whose result types come from its op's
 * shape rule (so passes never restate a shape), reading attributes with defaults, and giving a node's
 * result the identity of an existing value (so graph outputs keep their ONNX names after a rewrite).
 */
import { fail, nodeLoc } from '../../base/diagnostics.js';
import type { GraphBuilder } from '../graph.js';
import { findOp, type InferCtx, opOf, resolveAttrs } from '../optable.js';
import type { Attrs, AttrValue, Node, TensorType, Value } from '../types.js';

/** The InferCtx of `node` as it stands (types of its operands, attributes with defaults). */
export function inferCtxOf(node: Node): InferCtx {
  const def = opOf(node);
  let fresh = 0;
  return {
    node,
    inputs: node.inputs.map((v) => (v ? v.type : null)),
    attrs: resolveAttrs(def, node),
    constInput: (i) => node.inputs[i]?.const,
    freshDim: (hint) => `${hint ?? 'd'}__lut${fresh++}`,
    error: (code, message) => fail(code, message, nodeLoc(node)),
  };
}

/** Result types of `node` by its op's verifier and shape rule. */
export function inferNode(node: Node): TensorType[] {
  const def = opOf(node);
  const ctx = inferCtxOf(node);
  def.verify?.(ctx);
  return def.infer(ctx);
}

/** Appends a node of `op` whose result types are inferred; results are named `names` when given. */
export function addNode(b: GraphBuilder, op: string, inputs: (Value | null)[], attrs: Attrs, name: string, names?: string[]): Node {
  const node = b.node(op, inputs, attrs, [], { name, outNames: names });
  const types = inferNode(node);
  node.outputs = types.map((t, i) => ({
    name: b.uniqueName(names?.[i] ?? `${node.name}_${findOp(op)?.outputs[i]?.name ?? i}`),
    type: t,
    producer: node,
  }));
  return node;
}

/** Makes `node` the producer of `v` in place of its result `i` (v keeps its name and its uses). */
export function takeOverValue(node: Node, i: number, v: Value): void {
  v.producer = node;
  v.type = node.outputs[i]!.type;
  delete v.const;
  node.outputs[i] = v;
}

/** An attribute of `node` with its op's default, or `dflt` when the op (or the attribute) is unknown. */
export function attrOr(node: Node, name: string, dflt: number): number;
export function attrOr(node: Node, name: string, dflt: string): string;
export function attrOr(node: Node, name: string, dflt: AttrValue): AttrValue {
  const def = findOp(node.op);
  const v = def ? resolveAttrs(def, node)[name] : node.attrs[name];
  return v ?? dflt;
}
