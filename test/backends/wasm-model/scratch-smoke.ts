import '../../../ir/ops/index.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import { interpret } from '../../../ir/interpret.js';
import { runArtifact } from '../../../backends/wasm/run.js';
import { randomInput } from '../../helpers/models.js';
import * as fs from 'node:fs';
for (const [f, bits, tables] of [['examples/mlp.onnx', undefined, 'i8'], ['examples/llama-block.onnx', undefined, 'i8'], ['examples/llama-block.onnx', 4, 'i8'], ['examples/llama-block.onnx', 2, 'f32']] as const) {
  const g = importOnnx(fs.readFileSync(f), { dimBindings: { seq: 8, batch: 3 } } as any);
  runPipeline(g, { target: 'wasm', bits: bits as any, tables: tables as any });
  const inputs: any = {};
  for (const v of g.inputs) inputs[v.name] = randomInput(v.type.shape as number[], 7);
  const ref = interpret(g, inputs);
  const t0 = Date.now();
  const got = await runArtifact(g, inputs, { target: 'wasm' });
  let d = 0, s = 0;
  for (let i = 0; i < ref[0]!.data.length; i++) { d = Math.max(d, Math.abs(ref[0]!.data[i]! - got[0]!.data[i]!)); s = Math.max(s, Math.abs(ref[0]!.data[i]!)); }
  console.log(f, bits, tables, 'maxdiff', d, 'scale', s, 'rel', d / s, Date.now() - t0, 'ms');
}
