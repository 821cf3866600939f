/**
 * Regenerates the bundled example models (generated data, checked in; never edit the .onnx by hand):
 *
 *   npx tsx examples/make-examples.ts
 *
 * examples/mlp.onnx          3 Linear layers with ReLU, 64 -> 128 -> 128 -> 10, dynamic batch
 * examples/llama-block.onnx  one Llama-style decoder block, hidden 64, 4 heads, FFN 128, dynamic 'seq'
 *
 * The PyTorch exports in examples/torch/ come from examples/torch/export.py (needs torch).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLlamaBlock, buildMlp } from './models.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const models: Record<string, Uint8Array> = {
  'mlp.onnx': buildMlp({ dims: [64, 128, 128, 10], seed: 1, opset: 17 }),
  'llama-block.onnx': buildLlamaBlock({ hidden: 64, heads: 4, ffn: 128, seed: 2, opset: 17 }),
};
for (const [name, bytes] of Object.entries(models)) {
  fs.writeFileSync(path.join(here, name), bytes);
  console.log(`wrote examples/${name} (${bytes.length} bytes)`);
}
