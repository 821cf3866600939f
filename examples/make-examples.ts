/**
 * Regenerates the bundled example models (generated data, checked in; never edit the .onnx by hand):
 *
 *   npx tsx examples/make-examples.ts
 *
 * examples/mlp.onnx          3 Linear layers with ReLU, 64 -> 128 -> 128 -> 10, dynamic batch
 * examples/llama-block.onnx  one Llama-style decoder block, hidden 64, 4 heads, FFN 128, dynamic 'seq'
 * examples/tiny-llm/         the generation example (examples/tiny-llm.ts): model.onnx, tokenizer.json,
 *                            tokenizer_config.json and config.json, made from tiny-llm/corpus.txt
 *
 * The PyTorch exports in examples/torch/ come from examples/torch/export.py (needs torch).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLlamaBlock, buildMlp } from './models.js';
import { buildTinyLlm } from './tiny-llm.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const models: Record<string, Uint8Array> = {
  'mlp.onnx': buildMlp({ dims: [64, 128, 128, 10], seed: 1, opset: 17 }),
  'llama-block.onnx': buildLlamaBlock({ hidden: 64, heads: 4, ffn: 128, seed: 2, opset: 17 }),
};
for (const [name, bytes] of Object.entries(models)) {
  fs.writeFileSync(path.join(here, name), bytes);
  console.log(`wrote examples/${name} (${bytes.length} bytes)`);
}
const tiny = buildTinyLlm(fs.readFileSync(path.join(here, 'tiny-llm/corpus.txt'), 'utf8'));
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
for (const [name, data] of [
  ['model.onnx', tiny.model],
  ['tokenizer.json', json(tiny.tokenizer)],
  ['tokenizer_config.json', json(tiny.tokenizerConfig)],
  ['config.json', json(tiny.config)],
] as const) {
  fs.writeFileSync(path.join(here, 'tiny-llm', name), data);
  console.log(`wrote examples/tiny-llm/${name} (${data.length} ${typeof data === 'string' ? 'characters' : 'bytes'})`);
}
