/**
 * Half-precision linear layers (fp16 exports, transformers.js q4f16): passes/lower-linear.ts lowers
 * them to LUT kernels through casts (f16 -> f32 before the LUT ops, the f32 result rounded once to
 * f16). Checked on every compiled target, compiled once with a runtime sequence dim:
 * - MatMulNBits with f16 activations, scales and output (the q4f16 layer), 4-bit, block 32, against
 *   onnxruntime-node's CPU kernel (accuracy_level 0). Tolerance: 2^-10 of max|ref|, one f16 ulp at the
 *   largest output: both sides accumulate in f32 (summation orders differ by ~1e-7) and round to f16,
 *   so an output may land one half-ulp step apart, never more. A wrong scale or nibble is far beyond.
 * - MatMul with f16 float weights under --bits 4 against the interpreter on the same lowered graph
 *   (LUT_VS_INTERP plus the same f16 ulp, as the compiled f32 sum may round to the other f16).
 * And the layers are lowered (a decision per layer, no "only f32" reason).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../ir/ops/index.js';
import { openArtifact as openC } from '../../backends/c/run.js';
import { openArtifact as openWasm } from '../../backends/wasm/run.js';
import { type NodeGpu, openNodeGpu } from '../../backends/wgsl/device.js';
import { loadGraph } from '../../backends/wgsl/run.js';
import { nbitsWeights } from '../../bench/llm-model.js';
import { OnnxBuilder } from '../../compiler/onnx/builder.js';
import { importOnnx } from '../../compiler/onnx/index.js';
import { runPipeline } from '../../compiler/pipeline.js';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { seeded } from '../helpers/models.js';
import { checkCase, type RuntimeDimsCase } from '../helpers/runtime-dims.js';
import { LUT_VS_INTERP } from '../helpers/tolerance.js';

const F16_ULP = 2 ** -10;
const [K, N] = [96, 40];

const f16Input = (seq: number, seed: number): Record<string, Tensor> => {
  const r = seeded(seed);
  return {
    x: makeTensor(
      'f16',
      [1, seq, K],
      Array.from({ length: seq * K }, () => r() * 2 - 1),
    ),
  };
};

function nbitsF16(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17, domains: { 'com.microsoft': 1 } });
  b.input('x', 'f16', [1, 'seq', K]);
  const next = seeded(3);
  const [q, , z] = nbitsWeights(b, 'w', K, N, next);
  b.initializer(
    'w.scales16',
    makeTensor(
      'f16',
      [N, K / 32],
      Array.from({ length: (N * K) / 32 }, () => 0.01 + next() * 0.03),
    ),
  );
  const [y] = b.node('MatMulNBits', ['x', q!, 'w.scales16', z!], {
    domain: 'com.microsoft',
    attrs: { K, N, bits: 4, block_size: 32, accuracy_level: 0 },
  });
  b.output(y!, 'f16', [1, 'seq', N]);
  return b.toBytes();
}

function matmulF16(): Uint8Array {
  const b = new OnnxBuilder({ opset: 17 });
  b.input('x', 'f16', [1, 'seq', K]);
  const r = seeded(5);
  const w = b.initializer(
    'w',
    makeTensor(
      'f16',
      [K, N],
      Array.from({ length: K * N }, () => (r() * 2 - 1) * 0.2),
    ),
  );
  const bias = b.initializer(
    'bias',
    makeTensor(
      'f16',
      [N],
      Array.from({ length: N }, () => r() - 0.5),
    ),
  );
  const [m] = b.node('MatMul', ['x', w]);
  const [y] = b.node('Add', [m!, bias]);
  b.output(y!, 'f16', [1, 'seq', N]);
  return b.toBytes();
}

const CASES: RuntimeDimsCase[] = [
  {
    name: 'MatMulNBits, f16 activations and scales (q4f16) vs onnxruntime',
    model: nbitsF16,
    bounds: { seq: 8 },
    pipeline: { tables: 'f32' },
    oracle: 'ort',
    tolerance: F16_ULP,
    runs: [1, 5, 8].map((s, i) => f16Input(s, 60 + i)),
  },
  {
    name: 'MatMul with f16 float weights, --bits 4, vs the interpreter',
    model: matmulF16,
    bounds: { seq: 8 },
    pipeline: { bits: 4, tables: 'f32' },
    oracle: 'ref',
    tolerance: LUT_VS_INTERP + F16_ULP,
    runs: [1, 8].map((s, i) => f16Input(s, 70 + i)),
  },
];

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openNodeGpu();
});
afterAll(() => gpu?.release());

describe('f16 linear layers become LUT kernels', () => {
  it('every layer is lowered, through casts to and from f32', () => {
    for (const c of CASES) {
      const g = importOnnx(c.model());
      g.meta = { ...g.meta, dimBounds: c.bounds };
      const res = runPipeline(g, { target: 'wasm', ...c.pipeline });
      expect(
        res.decisions.map((d) => d.lowered),
        c.name,
      ).toEqual([true]);
      expect(res.graph.nodes.map((n) => n.op)).toContain('lut.matmul');
      expect(res.graph.outputs[0]!.type.dtype).toBe('f16');
    }
  });
  for (const c of CASES) {
    it(`c: ${c.name}`, () => checkCase(c, 'c', async (g) => openC(g, { target: 'c' })), 120_000);
    it(`wasm: ${c.name}`, () => checkCase(c, 'wasm', (g) => openWasm(g, { target: 'wasm' })), 120_000);
    it(`wgsl: ${c.name}`, () => checkCase(c, 'wgsl', (g) => loadGraph(gpu.device, g)), 120_000);
  }
});
