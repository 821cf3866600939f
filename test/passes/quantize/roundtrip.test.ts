/**
 * compiler/quantize.ts: `quantizeOnnx` writes exactly the q/scales/zeros lower-linear computes for
 * `--bits`, so lowering the quantized model equals lowering the float model with --bits (q, scales,
 * zeros identical; bits equal after narrowing 4-bit containers), and onnxruntime runs the written model
 * on those very weights: its output equals lutc's float reference of the dequantized weights to f32
 * summation error (F32_EXACT · max|ref| of test/helpers/tolerance.ts; measured 1.1e-7 .. 3.5e-7, K <= 272).
 */
import { describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { LutcError } from '../../../base/diagnostics.js';
import { OnnxBuilder } from '../../../compiler/onnx/builder.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import type { BitsOption } from '../../../compiler/options.js';
import { quantizeOnnx } from '../../../compiler/quantize-onnx.js';
import { dequantizeMatrix, quantizeMatrix } from '../../../ir/lut/quantize.js';
import { weightRows } from '../../../ir/lut/weights.js';
import type { Graph, Tensor } from '../../../ir/types.js';
import { runOrt } from '../../helpers/ort.js';
import { F32_EXACT, maxRel } from '../../helpers/tolerance.js';
import { dequantRef, errors, randTensor, rng } from '../../lut/util.js';
import { runUpTo } from '../util.js';

function floatModel(k: number, n: number, seed: number, opset = 17): { bytes: Uint8Array; w: Tensor } {
  const w = randTensor(rng(seed), [k, n]);
  const b = new OnnxBuilder({ opset });
  const x = b.input('x', 'f32', [2, k]);
  const [y] = b.node('MatMul', [x, b.initializer('w', w)], { outputs: ['y'], name: 'proj' });
  b.output(y!, 'f32', [2, n]);
  return { bytes: b.toBytes(), w };
}

function lowered(g: Graph) {
  const p = g.nodes.find((nd) => nd.op === 'lut.pack')!;
  return {
    attrs: p.attrs,
    q: Array.from(p.inputs[0]!.const!.data),
    s: Array.from(p.inputs[1]!.const!.data),
    z: Array.from(p.inputs[2]!.const!.data),
  };
}

describe('quantizeOnnx round trip', () => {
  const cases: [BitsOption, number, boolean, number, number, 'auto' | 'dq'][] = [
    [4, 32, false, 96, 24, 'auto'],
    [2, 64, false, 130, 9, 'auto'],
    [1.58, 128, false, 200, 16, 'auto'],
    [3, 16, false, 64, 7, 'auto'],
    // (DQ cases exceed the importer's 4096-element fold limit for DequantizeLinear, so the node survives)
    [1, 32, false, 64, 11, 'auto'],
    [1, 32, true, 64, 11, 'auto'],
    [4, 1000, true, 77, 13, 'auto'],
    [4, 24, false, 272, 20, 'dq'],
    [3, 40, true, 240, 24, 'dq'],
  ];
  for (const [bits, gs, symmetric, k, n, format] of cases) {
    it(`bits=${bits} G=${gs} ${symmetric ? 'symmetric' : 'asymmetric'} K=${k} N=${n} ${format}`, async () => {
      const opset = format === 'dq' ? 21 : 17;
      const { bytes, w } = floatModel(k, n, k * n, opset);
      const qbytes = quantizeOnnx(bytes, { bits, groupSize: gs, symmetric, format });
      const gq = importOnnx(qbytes);
      expect(gq.nodes.some((nd) => nd.op === (format === 'dq' ? 'dequantize_linear' : 'matmul_nbits'))).toBe(true);
      runUpTo(gq, 'lower-linear', {});
      const gf = importOnnx(bytes);
      runUpTo(gf, 'lower-linear', { bits, groupSize: gs, symmetric });
      const a = lowered(gq),
        b = lowered(gf);
      expect(a.q).toEqual(b.q);
      expect(a.s).toEqual(b.s);
      expect(a.z).toEqual(b.z);
      expect(a.attrs.bits).toBe(b.attrs.bits);
      // onnxruntime runs the same weights
      const x = randTensor(rng(9), [2, k]);
      const [yo] = await runOrt(qbytes, { x });
      const { w: rows } = weightRows(w, false);
      const qm = quantizeMatrix(rows, n, k, { bits, groupSize: gs, symmetric });
      const want = dequantRef(x.data as Float32Array, 2, qm);
      expect(maxRel(yo!, want)).toBeLessThan(F32_EXACT);
    });
  }

  it('quantization error is what b bits allow (RTN, uniform weights)', () => {
    // uniform weights in [-1, 1): step (hi - lo) / (2^b - 1) ~ 2 / (2^b - 1); RMS error ~ step / sqrt(12)
    const k = 256,
      n = 16;
    const { w } = floatModel(k, n, 5);
    const { w: rows } = weightRows(w, false);
    for (const bits of [2, 3, 4] as const) {
      const dq = dequantizeMatrix(quantizeMatrix(rows, n, k, { bits, groupSize: 64 }));
      const e = errors(dq, rows);
      const rmsW = Math.sqrt(1 / 3);
      expect(e.relL2).toBeLessThan((1.3 * 2) / ((1 << bits) - 1) / Math.sqrt(12) / rmsW);
    }
  });

  it('a group size the formats cannot hold at opset < 21 is a diagnosed error (LUT4033)', () => {
    const { bytes } = floatModel(64, 4, 1);
    expect(() => quantizeOnnx(bytes, { bits: 4, groupSize: 24 })).toThrow(LutcError);
    try {
      quantizeOnnx(bytes, { bits: 4, groupSize: 24 });
    } catch (e) {
      expect((e as LutcError).diagnostics[0]!.code).toBe('LUT4033');
    }
  });
});
