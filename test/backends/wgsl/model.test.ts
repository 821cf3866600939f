/**
 * Whole models through the WGSL artifact (model.mjs + weights.bin, exactly as written by compileModel)
 * on Dawn/SwiftShader, against the reference interpreter on the same lowered graph and against
 * onnxruntime-node on the ONNX model.
 *
 * Tolerances. Float paths: max|y - ref| <= 1e-4 max|ref|: the shaders accumulate in f32 where the
 * interpreter uses f64, and use exp/erf/sqrt approximations of a few f32 ulp; for these depths
 * (K <= 128, a handful of layers) the f32 error is ~1e-6 relative, so 1e-4 has margin and still
 * catches any wrong index or term (those give O(1) errors). LUT layers: the integer table lookups are
 * the same integers as the interpreter's, so the same bound holds. int8 tables vs f32 tables of the
 * same quantized model: rel-L2 <= 2e-2 (8-bit activation quantization error, DESIGN.md §2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import '../../../ir/ops/index.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import { interpret } from '../../../ir/interpret.js';
import { LutcError } from '../../../compiler/diagnostics.js';
import { openNodeGpu, type NodeGpu } from '../../../backends/wgsl/device.js';
import { runArtifact } from '../../../backends/wgsl/run.js';
import { renderModel, renderStep } from '../../../backends/wgsl/model-shaders.js';
import type { BitsOption } from '../../../compiler/options.js';
import type { Tensor } from '../../../ir/types.js';
import { buildLlamaBlock, buildMatMulNBits, buildMlp, randomInput } from '../../helpers/models.js';
import { runOrt } from '../../helpers/ort.js';
import { OnnxBuilder } from '../../helpers/onnx-builder.js';
import { relL2, relMax, runWgsl } from './helpers.js';

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openNodeGpu();
});
afterAll(() => gpu?.release());

const TOL = 1e-4;

function compiled(bytes: Uint8Array, o: { bits?: BitsOption; tables?: 'i8' | 'f32'; dims?: Record<string, number> } = {}) {
  const g = importOnnx(bytes, { dimBindings: o.dims });
  runPipeline(g, { target: 'wgsl', bits: o.bits, tables: o.tables, dimBindings: o.dims });
  return g;
}

async function check(bytes: Uint8Array, inputs: Record<string, Tensor>, o: Parameters<typeof compiled>[1] = {}, ort = true) {
  const g = compiled(bytes, o);
  const [got] = await runWgsl(gpu.device, g, inputs);
  const [ref] = interpret(g, inputs);
  expect(relMax(got!, ref!)).toBeLessThanOrEqual(TOL);
  if (ort) {
    const [o2] = await runOrt(bytes, inputs);
    expect(relMax(got!, o2!)).toBeLessThanOrEqual(TOL);
  }
  return got!;
}

describe('WGSL whole models on SwiftShader', () => {
  it('examples/mlp.onnx (float) vs interpreter and onnxruntime', async () => {
    await check(readFileSync('examples/mlp.onnx'), { x: randomInput([2, 64], 1) }, { dims: { batch: 2 } });
  });

  it('examples/llama-block.onnx, seq = 5 (float) vs interpreter and onnxruntime', async () => {
    await check(readFileSync('examples/llama-block.onnx'), { x: randomInput([1, 5, 64], 2) }, { dims: { seq: 5 } });
  });

  it('MLP with Gemm and a Llama block from test/helpers/models.ts', async () => {
    await check(buildMlp({ dims: [24, 40, 7], gemm: true, batch: 3, seed: 5 } as never), { x: randomInput([3, 24], 3) });
    await check(buildLlamaBlock({ hidden: 32, heads: 2, ffn: 48, seed: 9 }), { x: randomInput([1, 4, 32], 4) }, { dims: { seq: 4 } });
  });

  for (const bits of [2, 4] as const) {
    it(`--bits ${bits}: int8 and f32 tables vs the interpreter; int8 vs f32 tables rel-L2 <= 2e-2`, async () => {
      const bytes = readFileSync('examples/llama-block.onnx');
      const x = { x: randomInput([1, 3, 64], 10 + bits) };
      const i8 = await check(bytes, x, { bits, tables: 'i8', dims: { seq: 3 } }, false);
      const f32 = await check(bytes, x, { bits, tables: 'f32', dims: { seq: 3 } }, false);
      expect(relL2(i8, f32)).toBeLessThanOrEqual(2e-2);
      await check(readFileSync('examples/mlp.onnx'), { x: randomInput([4, 64], 20 + bits) }, { bits, dims: { batch: 4 } }, false);
    });
  }

  it('MatMulNBits: 4-bit lowered to LUT, 8-bit kept as a dequantizing kernel', async () => {
    for (const bits of [4, 8] as const) {
      const { bytes } = buildMatMulNBits({ k: 48, n: 20, bits, blockSize: 16, zeroPoints: true, bias: true, lead: [2] });
      await check(bytes, { A: randomInput([2, 48], 30 + bits) }, {}, false);
    }
  });

  it('runArtifact (the CLI path) opens its own device and matches', async () => {
    const g = compiled(readFileSync('examples/mlp.onnx'), { bits: 4, dims: { batch: 1 } });
    const x = { x: randomInput([1, 64], 7) };
    const [got] = await runArtifact(g, x, { target: 'wgsl' });
    expect(relMax(got!, interpret(g, x)[0]!)).toBeLessThanOrEqual(TOL);
  });
});

describe('WGSL diagnostics', () => {
  const codeOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (e instanceof LutcError) return e.diagnostics.map((d) => `${d.code} ${d.loc?.kind === 'node' ? d.loc.node : ''}`).join();
      throw e;
    }
    return 'no error';
  };

  it('run-time slice bounds leave a symbolic shape -> LUT5001 naming the node', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [4, 6]);
    const s = b.input('s', 'i64', [1]);
    const e = b.initializer('e', { dtype: 'i64', shape: [1], data: new Float64Array([3]) });
    const [y] = b.node('Slice', [x, s, e], { outputs: ['y'], name: 'cut' } as never);
    b.output(y!, 'f32');
    const g = importOnnx(b.toBytes());
    runPipeline(g, { target: 'wgsl' });
    expect(codeOf(() => renderModel(g))).toBe('LUT5001 cut');
  });

  it('an op without a WGSL renderer -> LUT5200 naming the node', () => {
    const node = { op: 'lut.pack', name: 'packer', inputs: [], outputs: [], attrs: {} };
    expect(codeOf(() => renderStep(node, [], []))).toBe('LUT5200 packer');
  });

  it('float64 values -> LUT5211', () => {
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f64', [3]);
    const [y] = b.node('Neg', [x], { outputs: ['y'] });
    b.output(y!, 'f64');
    const g = importOnnx(b.toBytes());
    runPipeline(g, { target: 'wgsl' });
    expect(codeOf(() => renderModel(g))).toMatch(/LUT5211/);
  });
});
