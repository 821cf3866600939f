import '../../../ir/ops/index.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import * as fs from 'node:fs';
for (const [f, bits] of [['examples/mlp.onnx', undefined], ['examples/llama-block.onnx', undefined], ['examples/llama-block.onnx', 4]] as const) {
  const g = importOnnx(fs.readFileSync('/work/main/' + f), { dimBindings: { seq: 8 } } as any);
  runPipeline(g, { target: 'wasm', bits: bits as any });
  const ops = new Map<string, number>();
  for (const n of g.nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
  console.log(f, bits, [...ops].map(([k, v]) => `${k}:${v}`).join(' '));
  console.log(g.inputs.map(v => `${v.name} ${v.type.dtype} [${v.type.shape}]`), g.outputs.map(v => `${v.name} ${v.type.dtype} [${v.type.shape}]`));
  for (const n of g.nodes) if (n.op.startsWith('lut.')) console.log(n.op, JSON.stringify(n.attrs));
}
