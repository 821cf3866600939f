import { readFileSync } from 'node:fs';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { runPipeline } from '../../../compiler/pipeline.js';
for (const [f, b] of [['examples/llama-block.onnx', {seq: 5, batch: 1}], ['examples/mlp.onnx', {}], ['examples/torch/llama_block.onnx', {seq: 5, batch:1}], ['examples/torch/mlp.onnx', {batch: 2}]] as const) {
  for (const bits of [undefined, 4] as const) {
    const g = importOnnx(readFileSync('/work/main/' + f), { file: f, dimBindings: b as any });
    runPipeline(g, { target: 'c', ...(bits ? { bits } : {}) });
    const ops = new Map<string, number>();
    for (const n of g.nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
    console.log(f, bits, g.inputs.map(v => `${v.name}:${v.type.dtype}[${v.type.shape}]`).join(' '), [...ops].map(([k, v]) => `${k}x${v}`).join(' '));
    for (const n of g.nodes) if (n.op.startsWith('lut.m')) { console.log('  ', n.op, JSON.stringify(n.attrs), n.inputs.map(v => v ? v.type.shape.join('x') : '-').join(' ')); break; }
  }
}
