/**
 * Whole models through the WGSL artifact (model.mjs + weights.bin, exactly as written by compileModel)
 * on Dawn/SwiftShader, against the reference interpreter on the same lowered graph and against
 * onnxruntime-node on the ONNX model. Each run also checks that the artifact's manifest lists the
 * expected LUT layers (none for float models), so a --bits test cannot pass by comparing float to float.
 *
 * Tolerances (test/helpers/tolerance.ts). Float models: max|y - ref| <= F32_EXACT max|ref| against the
 * interpreter and onnxruntime: the shaders accumulate in f32 where the interpreter uses f64, and use
 * exp/erf/sqrt approximations of a few f32 ulp (measured on SwiftShader 9e-8 .. 4.5e-7). LUT models:
 * the integer table lookups are the interpreter's integers, only float sums differ: LUT_VS_INTERP
 * (measured 0 .. 4.7e-7). int8 tables vs f32 tables of the same quantized model: rel-L2 <=
 * INT8_MODEL_REL_L2 (8-bit activation quantization error, docs/lut-format.md §9; measured 1.25e-2 /
 * 1.38e-2 for the Llama block at bits 2 / 4).
 */

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { type NodeGpu, openNodeGpu } from '../../../backends/wgsl/device.js';
import { renderModel, renderStep } from '../../../backends/wgsl/model-shaders.js';
import { runArtifact } from '../../../backends/wgsl/run.js';
import { LutcError } from '../../../base/diagnostics.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import type { BitsOption } from '../../../compiler/options.js';
import { runPipeline } from '../../../compiler/pipeline.js';
import { interpret } from '../../../ir/interpret.js';
import { parseGraph } from '../../../ir/parser.js';
import type { Tensor } from '../../../ir/types.js';
import { buildLlamaBlock, buildMatMulNBits, buildMlp, randomInput } from '../../helpers/models.js';
import { OnnxBuilder } from '../../helpers/onnx-builder.js';
import { runOrt } from '../../helpers/ort.js';
import { F32_EXACT, INT8_MODEL_REL_L2, LUT_VS_INTERP } from '../../helpers/tolerance.js';
import { relL2, relMax, runWgslArtifact } from './helpers.js';

let gpu: NodeGpu;
beforeAll(async () => {
  gpu = await openNodeGpu();
});
afterAll(() => gpu?.release());

function compiled(bytes: Uint8Array, o: { bits?: BitsOption; tables?: 'i8' | 'f32'; dims?: Record<string, number> } = {}) {
  const g = importOnnx(bytes, { dimBindings: o.dims });
  runPipeline(g, { target: 'wgsl', bits: o.bits, tables: o.tables, dimBindings: o.dims });
  return g;
}

/**
 * Runs the artifact and compares it; `layers` is how many LUT layers its manifest must list (0 unless
 * given: a float model must stay float, a --bits model must really have been lowered), each with the
 * requested bits and table precision.
 */
async function check(
  bytes: Uint8Array,
  inputs: Record<string, Tensor>,
  o: Parameters<typeof compiled>[1] & { layers?: number } = {},
  ort = true,
) {
  const g = compiled(bytes, o);
  const {
    outputs: [got],
    manifest,
  } = await runWgslArtifact(gpu.device, g, inputs);
  expect(manifest.layers.length).toBe(o.layers ?? 0);
  for (const l of manifest.layers) {
    if (o.bits !== undefined) expect(l.bits).toBe(o.bits);
    expect(l.tables).toBe(o.tables ?? 'i8');
  }
  const [ref] = interpret(g, inputs);
  const tol = (o.layers ?? 0) > 0 ? LUT_VS_INTERP : F32_EXACT;
  expect(relMax(got!, ref!)).toBeLessThanOrEqual(tol);
  if (ort) {
    const [o2] = await runOrt(bytes, inputs);
    expect(relMax(got!, o2!)).toBeLessThanOrEqual(F32_EXACT);
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
    it(`--bits ${bits}: int8 and f32 tables vs the interpreter; int8 vs f32 tables within INT8_MODEL_REL_L2`, async () => {
      const bytes = readFileSync('examples/llama-block.onnx');
      const x = { x: randomInput([1, 3, 64], 10 + bits) };
      const i8 = await check(bytes, x, { bits, tables: 'i8', dims: { seq: 3 }, layers: 7 }, false);
      const f32 = await check(bytes, x, { bits, tables: 'f32', dims: { seq: 3 }, layers: 7 }, false);
      expect(relL2(i8, f32)).toBeLessThanOrEqual(INT8_MODEL_REL_L2);
      await check(
        readFileSync('examples/mlp.onnx'),
        { x: randomInput([4, 64], 20 + bits) },
        { bits, dims: { batch: 4 }, layers: 3 },
        false,
      );
    });
  }

  it('MatMulNBits: 4-bit lowered to LUT, 8-bit kept as a matmul_nbits kernel (the int8 path)', async () => {
    for (const bits of [4, 8] as const) {
      const { bytes } = buildMatMulNBits({ k: 48, n: 20, bits, blockSize: 16, zeroPoints: true, bias: true, lead: [2] });
      await check(bytes, { A: randomInput([2, 48], 30 + bits) }, { layers: bits === 4 ? 1 : 0 }, false);
    }
  });

  it('runArtifact (the CLI path) opens its own device and matches', async () => {
    const g = compiled(readFileSync('examples/mlp.onnx'), { bits: 4, dims: { batch: 1 } });
    expect(g.nodes.filter((n) => n.op === 'lut.matmul').length).toBe(3);
    const x = { x: randomInput([1, 64], 7) };
    const [got] = await runArtifact(g, x, { target: 'wgsl' });
    expect(relMax(got!, interpret(g, x)[0]!)).toBeLessThanOrEqual(LUT_VS_INTERP);
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

  it('an op without a WGSL renderer -> LUT5003 naming the node', () => {
    const node = { op: 'lut.pack', name: 'packer', inputs: [], outputs: [], attrs: {} };
    expect(codeOf(() => renderStep(node, [], []))).toBe('LUT5003 packer');
  });

  it('every unsupported node is reported, not just the first', () => {
    const g = parseGraph(
      [
        'graph @two(%x: f32[2, 3]) {',
        '  %a = hardmax(%x) : f32[2, 3] @first',
        '  %b = softsign(%a) : f32[2, 3] @second',
        '  return %b',
        '}',
      ].join('\n'),
    );
    let err: unknown;
    try {
      renderModel(g);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LutcError);
    expect((err as LutcError).diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      "LUT5003 wgsl target: op 'hardmax' is not supported",
      "LUT5003 wgsl target: op 'softsign' is not supported",
    ]);
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
