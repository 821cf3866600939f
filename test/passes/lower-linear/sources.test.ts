/**
 * lower-linear on each weight source: MatMulNBits (q/scales/zeros bit-exact, output against the
 * matmul_nbits interpreter op), DequantizeLinear int4/uint4 blocked and per-axis, exact ternary float
 * weights (lossless), Gemm bias/residual, and the layers it must leave alone, each with its decision.
 * Output tolerance (f32 tables against the float graph or the matmul_nbits op): F32_EXACT · max|ref|
 * of test/helpers/tolerance.ts (f32 summation-order differences only; measured 9.7e-8 .. 2.4e-7).
 */
import { describe, expect, it } from 'vitest';
import '../../../ir/ops/index.js';
import { OnnxBuilder } from '../../../compiler/onnx/builder.js';
import { importOnnx } from '../../../compiler/onnx/index.js';
import { interpret } from '../../../ir/interpret.js';
import { makeTensor } from '../../../ir/tensor.js';
import type { Graph, Tensor } from '../../../ir/types.js';
import { buildMatMulNBits } from '../../helpers/models.js';
import { F32_EXACT, maxRel } from '../../helpers/tolerance.js';
import { randTensor, rng } from '../../lut/util.js';
import { runUpTo } from '../util.js';

/** The lut.pack operands (q, scales, zeros) right after lower-linear. */
function packOperands(g: Graph): Tensor[][] {
  return g.nodes.filter((n) => n.op === 'lut.pack').map((n) => n.inputs.map((v) => v!.const!));
}

describe('lower-linear: MatMulNBits', () => {
  const cases: [number, number, 2 | 4 | 8, number, boolean, boolean][] = [
    [64, 16, 4, 32, true, true],
    [100, 7, 2, 16, false, false],
    [203, 37, 4, 128, true, false],
    [48, 9, 8, 16, true, false],
    [40, 5, 2, 64, true, true],
  ];
  for (const [k, n, bits, bs, zp, bias] of cases) {
    it(`K=${k} N=${n} bits=${bits} block=${bs} zp=${zp} bias=${bias}`, () => {
      const { bytes, weights } = buildMatMulNBits({ k, n, bits, blockSize: bs, zeroPoints: zp, bias, lead: [3], seed: k + n });
      const ref = importOnnx(bytes);
      const x = randTensor(rng(k), [3, k]);
      const want = interpret(ref, { A: x })[0]!;
      const g = importOnnx(bytes);
      const ctx = runUpTo(g, 'lower-linear', { tables: 'f32' });
      const d = ctx.decisions[0]!;
      if (bits === 8) {
        // random 8-bit values need all 8 planes: left as a float op, and said why
        expect(d.lowered).toBe(false);
        expect(d.reason).toMatch(/do not fit 1-4-bit/);
        expect(g.nodes.map((nd) => nd.op)).toEqual(['matmul_nbits']);
        return;
      }
      expect(d).toMatchObject({ lowered: true, n, k, groupSize: Math.min(bs, k) });
      const [[q, s, z]] = packOperands(g) as [Tensor[]];
      expect(Array.from(q!.data)).toEqual(Array.from(weights.q));
      expect(Array.from(s!.data)).toEqual(Array.from(weights.scales));
      expect(Array.from(z!.data)).toEqual(Array.from(weights.zp));
      for (const last of ['bitplane-layout']) runUpTo(g, last, { tables: 'f32' });
      const y = interpret(g, { A: x })[0]!;
      expect(y.shape).toEqual(want.shape);
      expect(maxRel(y, want)).toBeLessThan(F32_EXACT);
    });
  }
});

describe('lower-linear: DequantizeLinear and float grids', () => {
  function dqModel(dtype: 'i4' | 'u4' | 'i8', k: number, n: number, block: number, seed: number): Uint8Array {
    const r = rng(seed);
    const lo = dtype === 'i4' ? -8 : dtype === 'i8' ? -4 : 0; // int8 holding values of a 3-bit range
    const span = dtype === 'i8' ? 8 : 16;
    const qv = Array.from({ length: k * n }, () => lo + Math.floor(r() * span));
    const groups = block ? Math.ceil(k / block) : 1;
    const sshape = block ? [groups, n] : [n];
    const nsc = groups * n;
    const b = new OnnxBuilder({ opset: 21 });
    const x = b.input('x', 'f32', [2, k]);
    const [w] = b.node(
      'DequantizeLinear',
      [
        b.initializer('q', makeTensor(dtype, [k, n], qv)),
        b.initializer(
          's',
          makeTensor(
            'f32',
            sshape,
            Array.from({ length: nsc }, () => 0.01 + r() * 0.05),
          ),
        ),
        b.initializer(
          'z',
          makeTensor(
            dtype,
            sshape,
            Array.from({ length: nsc }, () => lo + Math.floor(r() * span)),
          ),
        ),
      ],
      { attrs: block ? { axis: 0, block_size: block } : { axis: 1 } },
    );
    const [y] = b.node('MatMul', [x, w!], { outputs: ['y'] });
    b.output(y!, 'f32', [2, n]);
    return b.toBytes();
  }
  // Larger than the importer's fold limit for DequantizeLinear (4096 elements), so the DQ node survives.
  for (const [dtype, k, n, block, bits] of [
    ['i4', 256, 19, 32, 4],
    ['u4', 277, 17, 0, 4],
    ['i8', 296, 15, 16, 3],
  ] as const) {
    it(`DequantizeLinear ${dtype} block=${block}: lowered (${bits} bits), output as the float graph`, () => {
      const bytes = dqModel(dtype, k, n, block, k);
      const x = randTensor(rng(5), [2, k]);
      const want = interpret(importOnnx(bytes), { x })[0]!;
      const g = importOnnx(bytes);
      const ctx = runUpTo(g, 'bitplane-layout', { tables: 'f32' });
      expect(ctx.decisions[0]).toMatchObject({ lowered: true, bits, groupSize: block || k });
      expect(ctx.decisions[0]!.reason).toMatch(/DequantizeLinear/);
      expect(maxRel(interpret(g, { x })[0]!, want)).toBeLessThan(F32_EXACT);
    });
  }

  it('float weights on an exact ternary grid are lowered losslessly without --bits', () => {
    const r = rng(11);
    const k = 96,
      n = 10;
    const a = 0.037;
    const w = makeTensor(
      'f32',
      [k, n],
      Array.from({ length: k * n }, () => [-a, 0, a][Math.floor(r() * 3)]!),
    );
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [1, k]);
    const [y] = b.node('MatMul', [x, b.initializer('w', w)], { outputs: ['y'] });
    b.output(y!, 'f32', [1, n]);
    const g = importOnnx(b.toBytes());
    const xt = randTensor(r, [1, k]);
    const want = interpret(g, { x: xt })[0]!;
    const ctx = runUpTo(g, 'lower-linear', { tables: 'f32' });
    expect(ctx.decisions[0]).toMatchObject({ lowered: true, bits: 2 });
    expect(ctx.decisions[0]!.reason).toMatch(/exact ternary grid/);
    const [[q, s, z]] = packOperands(g) as [Tensor[]];
    // dequantized weights equal the float weights exactly
    for (let nn = 0; nn < n; nn++)
      for (let kk = 0; kk < k; kk++) {
        expect(Math.fround(s!.data[nn]! * (q!.data[nn * k + kk]! - z!.data[nn]!))).toBe(w.data[kk * n + nn]);
      }
    runUpTo(g, 'bitplane-layout', { tables: 'f32' });
    expect(maxRel(interpret(g, { x: xt })[0]!, want)).toBeLessThan(F32_EXACT);
  });

  it('leaves float weights alone without --bits, and non-constant weights always, saying why', () => {
    const r = rng(3);
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [2, 16]);
    const v = b.input('v', 'f32', [8, 4]);
    const [h] = b.node('MatMul', [x, b.initializer('w', randTensor(r, [16, 8]))]);
    const [y] = b.node('MatMul', [h!, v], { outputs: ['y'] });
    b.output(y!, 'f32', [2, 4]);
    const g = importOnnx(b.toBytes());
    const ctx = runUpTo(g, 'bitplane-layout', {});
    expect(ctx.decisions.map((d) => d.lowered)).toEqual([false, false]);
    expect(ctx.decisions[0]!.reason).toMatch(/--bits/);
    expect(ctx.decisions[1]!.reason).toMatch(/not a constant/);
    expect(g.nodes.every((nd) => nd.op === 'matmul')).toBe(true);
  });

  it('Gemm: transB weights quantized with --bits, C becomes the bias', () => {
    const r = rng(8);
    const k = 40,
      n = 12;
    const b = new OnnxBuilder({ opset: 17 });
    const x = b.input('x', 'f32', [3, k]);
    const [y] = b.node('Gemm', [x, b.initializer('w', randTensor(r, [n, k])), b.initializer('c', randTensor(r, [n]))], {
      attrs: { transB: 1 },
      outputs: ['y'],
    });
    b.output(y!, 'f32', [3, n]);
    const g = importOnnx(b.toBytes());
    const ctx = runUpTo(g, 'bitplane-layout', { bits: 4, groupSize: 8, tables: 'f32' });
    expect(ctx.decisions[0]).toMatchObject({ lowered: true, n, k, bits: 4, groupSize: 8 });
    const mm = g.nodes.find((nd) => nd.op === 'lut.matmul')!;
    expect(mm.inputs[6]?.const?.shape).toEqual([n]);
    expect(g.outputs[0]!.name).toBe('y');
  });
});
