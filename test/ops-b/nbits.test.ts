/**
 * com.microsoft MatMulNBits against a float64 dequantize-then-matmul written here from docs/onnx-inputs.md,
 * with its own LSB-first bit-stream packer. Tolerance per output: 2^-23 * (sum_k |a_k w_k| + |y|):
 * the op rounds each dequantized weight to float32 (2^-24 relative each, bounded by the sum of
 * |a_k w_k|) and the result once (2^-24 |y|); the factor 2 covers the float64 summation. Any wrong
 * nibble, zero point or scale index moves an output by a whole quantization step, far above it.
 */
import { describe, expect, it } from 'vitest';
import { makeTensor } from '../../ir/tensor.js';
import type { Tensor } from '../../ir/types.js';
import { buildNode, expectCode, f32, k, rng, run1, t } from './helpers.js';

/** Packs unsigned `bits`-wide values as one LSB-first bit stream (bit p lives in byte p>>3, bit p&7). */
function packBits(values: number[], bits: number, nBytes: number): number[] {
  const out = new Array<number>(nBytes).fill(0);
  let p = 0;
  for (const v of values) for (let b = 0; b < bits; b++, p++) if ((v >> b) & 1) out[p >> 3]! |= 1 << (p & 7);
  return out;
}

interface Case {
  K: number;
  N: number;
  bits: 2 | 4 | 8;
  bs: number;
  zp: 'none' | 'packed' | 'float';
  bias: boolean;
  aShape: number[];
}

function makeCase(c: Case, seed: number) {
  const r = rng(seed);
  const kBlocks = Math.ceil(c.K / c.bs);
  const blob = (c.bs * c.bits) / 8;
  const maxQ = 2 ** c.bits;
  const q = Array.from({ length: c.N }, () => Array.from({ length: c.K }, () => Math.floor(r() * maxQ)));
  const B: number[] = [];
  for (let n = 0; n < c.N; n++)
    for (let kb = 0; kb < kBlocks; kb++) {
      const block = Array.from({ length: c.bs }, (_, i) => q[n]![kb * c.bs + i] ?? 0); // K zero-padded
      B.push(...packBits(block, c.bits, blob));
    }
  const scales = Float32Array.from({ length: c.N * kBlocks }, () => 0.01 + 0.1 * r());
  const zpInt = Array.from({ length: c.N * kBlocks }, () => Math.floor(r() * maxQ));
  const zpFloat = Float32Array.from({ length: c.N * kBlocks }, () => r() * (maxQ - 1));
  const zpRow = Math.ceil((kBlocks * c.bits) / 8);
  const zpPacked: number[] = [];
  for (let n = 0; n < c.N; n++) zpPacked.push(...packBits(zpInt.slice(n * kBlocks, (n + 1) * kBlocks), c.bits, zpRow));
  const bias = Float32Array.from({ length: c.N }, () => r() - 0.5);
  const M = c.aShape.slice(0, -1).reduce((x, y) => x * y, 1);
  const a = Float32Array.from({ length: M * c.K }, () => r() * 2 - 1);

  // Reference: W[n][k] = (q - zp) * scale in float64, then Y = A W^T (+ bias).
  const zpOf = (n: number, kb: number) =>
    c.zp === 'none' ? 2 ** (c.bits - 1) : c.zp === 'packed' ? zpInt[n * kBlocks + kb]! : zpFloat[n * kBlocks + kb]!;
  const want = new Float64Array(M * c.N);
  const tol = new Float64Array(M * c.N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < c.N; n++) {
      let s = 0,
        abs = 0;
      for (let kk = 0; kk < c.K; kk++) {
        const kb = Math.floor(kk / c.bs);
        const w = (q[n]![kk]! - zpOf(n, kb)) * scales[n * kBlocks + kb]!;
        s += a[m * c.K + kk]! * w;
        abs += Math.abs(a[m * c.K + kk]! * w);
      }
      if (c.bias) s += bias[n]!;
      want[m * c.N + n] = s;
      tol[m * c.N + n] = 2 ** -23 * (abs + Math.abs(s));
    }
  const operands: (Tensor | null)[] = [
    makeTensor('f32', c.aShape, a),
    makeTensor('u8', [c.N, kBlocks, blob], B),
    makeTensor('f32', [c.N, kBlocks], scales),
    c.zp === 'packed' ? makeTensor('u8', [c.N, zpRow], zpPacked) : c.zp === 'float' ? makeTensor('f32', [c.N, kBlocks], zpFloat) : null,
    null,
    c.bias ? makeTensor('f32', [c.N], bias) : null,
  ];
  return { operands, want, tol, attrs: { K: c.K, N: c.N, bits: c.bits, block_size: c.bs } };
}

describe('matmul_nbits', () => {
  let seed = 100;
  for (const bits of [2, 4, 8] as const)
    for (const zp of ['none', 'packed', 'float'] as const)
      for (const bias of [false, true]) {
        // K = 80 with block 32 pads the last block; 3 blocks make packed 4-bit zero points end mid-byte.
        const c: Case = { K: 80, N: 5, bits, bs: bits === 8 ? 16 : 32, zp, bias, aShape: [2, 3, 80] };
        it(`bits=${bits} zero_points=${zp} bias=${bias}`, () => {
          const { operands, want, tol, attrs } = makeCase(c, seed++);
          const y = run1('matmul_nbits', operands, attrs);
          expect(y.shape).toEqual([2, 3, 5]);
          for (let i = 0; i < want.length; i++) expect(Math.abs(y.data[i]! - want[i]!), `output ${i}`).toBeLessThanOrEqual(tol[i]!);
        });
      }

  it('reads a hand-packed 4-bit and 2-bit block exactly (even i in the low nibble, LSB first)', () => {
    const a = f32([1, 16], [1, 10, 100, 1000, ...new Array(12).fill(0)]);
    const B4 = t('u8', [1, 1, 8], [0x21, 0x43, 0, 0, 0, 0, 0, 0]); // q = 1, 2, 3, 4, 0...
    const y4 = run1('matmul_nbits', [a, B4, f32([1, 1], [1]), t('u8', [1, 1], [0x00])], { K: 16, N: 1, bits: 4, block_size: 16 });
    expect(y4.data[0]).toBe(1 * 1 + 10 * 2 + 100 * 3 + 1000 * 4);
    const B2 = t('u8', [1, 1, 4], [0xe4, 0, 0, 0]); // 0b11_10_01_00: q = 0, 1, 2, 3
    const y2 = run1('matmul_nbits', [a, B2, f32([1, 1], [2])], { K: 16, N: 1, bits: 2, block_size: 16 });
    // default zero point 2^(bits-1) = 2: w = 2 * (q - 2) = -4, -2, 0, 2
    expect(y2.data[0]).toBe(-4 + 10 * -2 + 0 + 1000 * 2);
  });

  it('accepts a trivial g_idx and a flat scales vector', () => {
    const { operands, want, tol, attrs } = makeCase({ K: 64, N: 3, bits: 4, bs: 16, zp: 'packed', bias: false, aShape: [1, 64] }, 9);
    operands[2] = makeTensor('f32', [operands[2]!.data.length], operands[2]!.data); // older files: flat scales
    const gIdx = t(
      'i32',
      [64],
      Array.from({ length: 64 }, (_, i) => Math.floor(i / 16)),
    );
    const y = run1('matmul_nbits', [operands[0]!, k(operands[1]!), k(operands[2]!), k(operands[3]!), k(gIdx), null], attrs);
    for (let i = 0; i < want.length; i++) expect(Math.abs(y.data[i]! - want[i]!)).toBeLessThanOrEqual(tol[i]!);
  });

  it('diagnoses act-order g_idx, prepacked weights, bad bits/block_size and operand sizes', () => {
    const { operands, attrs } = makeCase({ K: 32, N: 2, bits: 4, bs: 16, zp: 'none', bias: false, aShape: [1, 32] }, 5);
    const [a, B, s] = operands as [Tensor, Tensor, Tensor];
    const perm = t(
      'i32',
      [32],
      Array.from({ length: 32 }, (_, i) => (i % 2 ? 0 : 1)),
    );
    expectCode(() => buildNode('matmul_nbits', [a, B, s, null, k(perm)], attrs), 'LUT1121');
    expectCode(() => buildNode('matmul_nbits', [a, B, s, null, perm], attrs), 'LUT1121');
    expectCode(() => buildNode('matmul_nbits', [a, B, s], { ...attrs, weight_prepacked: 1 }), 'LUT1120');
    expectCode(() => buildNode('matmul_nbits', [a, B, s], { ...attrs, bits: 3 }), 'LUT1120');
    expectCode(() => buildNode('matmul_nbits', [a, B, s], { ...attrs, block_size: 24 }), 'LUT1120');
    expectCode(() => buildNode('matmul_nbits', [a, B, s], { ...attrs, N: 3 }), 'LUT1110');
    expectCode(() => buildNode('matmul_nbits', [f32([1, 16], new Array(16).fill(0)), B, s], attrs), 'LUT1110');
  });

  // Timing is the benchmarks' business (bench/); the big case checks every output against the
  // reference above, written out for this blob layout (LSB-first nibbles, default zero point 8).
  it('a 4096x4096 4-bit GEMV matches a direct float64 dequantized dot product per output', () => {
    const K = 4096,
      N = 4096,
      bs = 32;
    const B = makeTensor('u8', [N, K / bs, bs / 2]);
    const bd = B.data as Uint8Array;
    for (let i = 0; i < bd.length; i++) bd[i] = (i * 151) & 255;
    const scales = makeTensor('f32', [N, K / bs]);
    const sd = scales.data as Float32Array;
    for (let i = 0; i < sd.length; i++) sd[i] = 0.01 + 0.001 * (i % 7);
    const a = makeTensor(
      'f32',
      [1, K],
      Float32Array.from({ length: K }, (_, i) => Math.sin(0.37 * i)),
    );
    const y = run1('matmul_nbits', [a, B, scales], { K, N, bits: 4, block_size: bs });
    expect(y.shape).toEqual([1, N]);
    for (let n = 0; n < N; n++) {
      let s = 0,
        abs = 0;
      for (let kk = 0; kk < K; kk++) {
        const byte = bd[n * (K / 2) + (kk >> 1)]!;
        const w = ((kk & 1 ? byte >> 4 : byte & 15) - 8) * sd[n * (K / bs) + Math.floor(kk / bs)]!;
        s += a.data[kk]! * w;
        abs += Math.abs(a.data[kk]! * w);
      }
      expect(Math.abs(y.data[n]! - s), `output ${n}`).toBeLessThanOrEqual(2 ** -23 * (abs + Math.abs(s)));
    }
  });
});
