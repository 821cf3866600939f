/**
 * Runtime bounds of compiled artifacts on user data (issue 16 item 3) for the LLM ops whose index
 * operands come from the caller: a GatherBlockQuantized token id beyond the table (the tied-embedding
 * form of transformers.js q4 exports) and a RotaryEmbedding position beyond the cos/sin rows, each on
 * c, wasm and wgsl: a coded LUT5008 naming the node and the value, never a trap, a crash or garbage;
 * the in-range feeds of the same artifact still run. (Runtime dims beyond bounds, contradicting shapes
 * and plain Gather indices are covered by test/e2e/runtime-dims-*.test.ts; the C artifact under
 * ASan/UBSan there too.)
 */
import { describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { openArtifact as openC } from '../../backends/c/run.js';
import { openArtifact as openWasm } from '../../backends/wasm/run.js';
import { openArtifact as openWgsl } from '../../backends/wgsl/run.js';
import { nbitsWeights } from '../../bench/llm-model.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Graph } from '../../ir/types.js';
import { seeded, uniform } from '../helpers/models.js';
import { runOutcome } from '../helpers/runtime-dims.js';

const V = 40;
const D = 64;

/** Token ids [1, seq] -> GatherBlockQuantized over a [V, D] 4-bit table (block 32). */
function gbqModel(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  b.input('ids', 'i64', [1, 'seq']);
  const [q, s, z] = nbitsWeights(b, 't', D, V, seeded(4));
  const [flat] = b.node('Reshape', [q!, b.initializer('shape', makeTensor('i64', [2], [V, D / 2]))]);
  const [y] = b.node('GatherBlockQuantized', [flat!, 'ids', s!, z!], {
    domain: 'com.microsoft',
    attrs: { bits: 4, block_size: 32, gather_axis: 0, quantize_axis: 1 },
    name: 'embed',
  });
  b.output(y!, 'f32', [1, 'seq', D]);
  return b.toBytes();
}

/** x [1, seq, 2 heads of 16] rotated at position_ids [1, seq] from 8 cos/sin rows. */
function rotaryModel(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  b.input('x', 'f32', [1, 'seq', 32]);
  b.input('pos', 'i64', [1, 'seq']);
  const ang = Array.from({ length: 8 * 8 }, (_, i) => Math.floor(i / 8) * 10000 ** (-(2 * (i % 8)) / 16));
  const cos = b.initializer('cos', makeTensor('f32', [8, 8], ang.map(Math.cos)));
  const sin = b.initializer('sin', makeTensor('f32', [8, 8], ang.map(Math.sin)));
  const [y] = b.node('RotaryEmbedding', ['x', 'pos', cos, sin], { domain: 'com.microsoft', attrs: { num_heads: 2 }, name: 'rope' });
  b.output(y!, 'f32', [1, 'seq', 32]);
  return b.toBytes();
}

const lower = (bytes: Uint8Array, target: 'c' | 'wasm' | 'wgsl'): Graph => {
  const g = importOnnx(bytes);
  g.meta = { ...g.meta, dimBounds: { seq: 8 } };
  return runPipeline(g, { target, tables: 'f32' }).graph;
};
const open = (target: 'c' | 'wasm' | 'wgsl', g: Graph) =>
  target === 'c' ? openC(g, { target: 'c' }) : target === 'wasm' ? openWasm(g, { target: 'wasm' }) : openWgsl(g, { target: 'wgsl' });

describe('index operands out of range in compiled artifacts: LUT5008, never a trap', () => {
  for (const target of ['c', 'wasm', 'wgsl'] as const) {
    it(`${target}: GatherBlockQuantized token id beyond the table; RotaryEmbedding position beyond the cos/sin rows`, async () => {
      const gbq = lower(gbqModel(), target);
      const ids = (xs: number[]) => ({ ids: makeTensor('i64', [1, xs.length], xs) });
      expect(await runOutcome(await open(target, gbq), ids([3, 39, 0]))).toBe('ok');
      expect(await runOutcome(await open(target, gbq), ids([3, 40]))).toMatch(/^LUT5008: .*40 is out of range/);
      expect(await runOutcome(await open(target, gbq), ids([-41]))).toMatch(/^LUT5008: .*-41 is out of range/);
      const rope = lower(rotaryModel(), target);
      const x = uniform([1, 2, 32], 1, seeded(9));
      const pos = (xs: number[]) => ({ x, pos: makeTensor('i64', [1, xs.length], xs) });
      expect(await runOutcome(await open(target, rope), pos([6, 7]))).toBe('ok');
      expect(await runOutcome(await open(target, rope), pos([7, 8]))).toMatch(/^LUT5008: .*8 is out of range/);
    }, 120_000);
  }
});
