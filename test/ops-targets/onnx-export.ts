/**
 * A test-side exporter from an IR graph to an ONNX model (opset 20, com.microsoft 1), for running the
 * op cases in onnxruntime-node: every node becomes its op's ONNX node (the op table's `onnx` mapping;
 * the IR's operand forms are ONNX's at opset 18+), attributes typed by the op's attribute specs, If
 * branches as subgraphs, constants as initializers. Ops without an ONNX form (lut.*) are an error.
 */
import { type BuilderAttr, OnnxBuilder, type OnnxGraphBuilder } from '../../compiler/onnx/builder.js';
import { findOp } from '../../ir/optable.js';
import type { Graph, Tensor } from '../../ir/types.js';

function emit(gb: OnnxGraphBuilder, g: Graph, top: boolean): void {
  if (top) for (const v of g.inputs) gb.input(v.name, v.type.dtype, v.type.shape);
  for (const c of g.constants) gb.initializer(c.name, c.const!);
  for (const n of g.nodes) {
    const def = findOp(n.op);
    if (!def?.onnx) throw new Error(`op '${n.op}' has no ONNX form`);
    const attrs: Record<string, BuilderAttr> = {};
    for (const [k, v] of Object.entries(n.attrs)) {
      const type = def.attrs[k]?.type;
      if (type === 'int') attrs[k] = { i: v as number };
      else if (type === 'float') attrs[k] = { f: v as number };
      else if (type === 'ints') attrs[k] = { ints: v as number[] };
      else if (type === 'floats') attrs[k] = { floats: v as number[] };
      else if (type === 'graph') {
        const sub = gb.subgraph(`${n.name}_${k}`);
        emit(sub, v as Graph, false);
        attrs[k] = sub;
      } else attrs[k] = v as string | string[] | Tensor;
    }
    const inputs = n.inputs.map((v) => v?.name ?? '');
    while (inputs.length && inputs[inputs.length - 1] === '') inputs.pop();
    gb.node(def.onnx.type, inputs, { attrs, domain: def.onnx.domain || undefined, outputs: n.outputs.map((v) => v.name), name: n.name });
  }
  for (const v of g.outputs) gb.output(v.name, v.type.dtype, v.type.shape);
}

/** The ONNX model bytes of `g`. */
export function toOnnx(g: Graph): Uint8Array {
  const b = new OnnxBuilder({ opset: 20, domains: { 'com.microsoft': 1 } });
  emit(b, g, true);
  return b.toBytes();
}
